"""Editor pages: the knowledge-base list, drafts, preview, try-it, review, history, unanswered questions.

Routes parse the form, call one ``check_*`` then one ``do_*`` from :mod:`admin.kb`
and commit; a :class:`~admin.kb.WorkflowError` becomes a message on the page.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from admin import deps
from admin import kb as wf
from admin.console import EditorPage, NavItem, page_roles, render
from admin.console.kb_preview import preview_context
from admin.console.refusals import refused_with
from admin.deps import FormDep, SessionDep, SignedIn
from admin.kb_models import STATUS_LABELS, EntryVersion
from admin.models import Role
from admin.params import DbId, OptionalDbIdQuery
from knowledge.editorial.diff import diff_lines, readable
from knowledge.editorial.entries import ENTRY_ID, EntryFields, KbFiles, entry_text, split_lines
from knowledge.editorial.validation import validate_text
from knowledge.kb import REVIEW_KINDS, Entry, EntryFormatError, KnowledgeBase, Source, parse_entry
from knowledge.understand import Understander

router = APIRouter(prefix="/console/kb", include_in_schema=False)
NAV = [NavItem("知識ベース", "/console/kb", frozenset({"editor", "admin"}), order=20)]
# why admins may read: they answer for what the bot says; changing it stays with editors
KbReaderPage = Annotated[SignedIn, Depends(page_roles(Role.editor, Role.admin))]

MAX_SOURCE_ROWS = 8

# why codes, not text, in the redirect URL: a crafted link cannot put words on a console page
DONE = {
    "saved": "下書きを保存しました。",
    "submitted": "確認に出しました。別の編集者が確認して公開します。",
    "withdrawn": "取り下げました。下書きに戻っています。",
    "published": "v{version} を公開しました。ボットはこの内容で答えます。",
    "rejected": "差し戻しました。",
    "discarded": "下書きを破棄しました。",
    "rollback": "以前の版の内容を v{version} として確認に出しました。別の編集者が公開すると元に戻ります。",
    "from_cluster": "答えられなかった質問から新しい項目の下書きを作りました。",
    "paraphrases": "質問の言い方を追加した下書きです。確認して保存・提出してください。",
}


def done_message(request: Request, **values) -> str | None:
    template = DONE.get(request.query_params.get("done", ""))
    try:
        return template.format(**values) if template else None
    except KeyError:  # a code meant for another page
        return None


def _files(request: Request) -> KbFiles:
    return KbFiles.default(request.app.state.runtime.entries_dir)


def _live(request: Request):
    return request.app.state.runtime.knowledge


def _not_found(request: Request, login) -> HTMLResponse:
    return render(request, "console/message.html", login, status_code=404, title="見つかりません", message="その項目・版は見つかりません。")


# --- refusal pages: what a route shows when the workflow refuses (admin.console.refusals) -------

def _version_refused(status_code: int, *, problems: bool = False):
    """The version page again with the reason (and, for submit and publish, the problems found)."""

    def page(exc: wf.WorkflowError, *, request: Request, session, login: SignedIn, version_id: int, **_form) -> HTMLResponse:
        row = wf.get_version(session, version_id)
        assert row is not None  # the route found the version before the workflow refused
        found: dict[str, Any] = {"problems": exc.problems} if problems else {}
        return _version_page(request, session, login, row, status_code=status_code, flash=exc.message, flash_kind="error", **found)

    return page


def _entry_refused(exc: wf.WorkflowError, *, request: Request, session, login: SignedIn, entry_id: str) -> HTMLResponse:
    return _entry_error(request, session, login, entry_id, exc)


def _rollback_refused(exc: wf.WorkflowError, *, request: Request, session, login: SignedIn, version_id: int) -> HTMLResponse:
    row = wf.get_version(session, version_id)
    assert row is not None  # the route found the version before the workflow refused
    return _entry_error(request, session, login, row.entry_id, exc)


def _new_entry_refused(exc: wf.WorkflowError, *, request: Request, login: SignedIn, entry_id: str, title: str, questions: str, **_route) -> HTMLResponse:
    return render(request, "console/kb/new.html", login, status_code=400, title="新しい項目", error=exc.message,
                  entry_id=entry_id.strip(), entry_title=title, questions=questions)


# --- form <-> fields ----------------------------------------------------------------------------

def fields_from_form(form: FormData) -> EntryFields:
    """The edit form's values as EntryFields (textareas: one item per line)."""
    sources = []
    seeds, names, urls, quotes = (form.getlist(k) for k in ("src_seed", "src_name", "src_url", "src_quote"))
    for i in range(min(max(len(seeds), len(names), len(urls), len(quotes)), MAX_SOURCE_ROWS)):
        def at(values, i=i):
            return (values[i].strip() or None) if i < len(values) and isinstance(values[i], str) else None

        quote = at(quotes)
        sources.append(Source(seed=at(seeds), name=at(names), url=at(urls), quote=" ".join(quote.split()) if quote else None))
    return EntryFields(
        title=str(form.get("title") or "").strip()[:120],
        answer=str(form.get("answer") or "")[:4000],
        questions=split_lines(str(form.get("questions") or ""))[:200],
        keywords=split_lines(str(form.get("keywords") or "").replace("、", "\n").replace(",", "\n"))[:100],
        related=split_lines(str(form.get("related") or "").replace(",", "\n"))[:10],
        sources=[s for s in sources if s.seed or s.name or s.url or s.quote],
        as_of=str(form.get("as_of") or "").strip()[:120],
        needs_place=form.get("needs_place") == "1",
    )


# --- preview --------------------------------------------------------------------------------

def draft_kb(live: KnowledgeBase, entry: Entry) -> KnowledgeBase:
    entries = dict(live.entries)
    entries[entry.id] = entry
    return KnowledgeBase(entries)


# why a small cache: building an Understander takes ~0.1 s; try-it asks many questions of one draft
_MATCHERS: OrderedDict[tuple, Understander] = OrderedDict()
_MATCHERS_LOCK = threading.Lock()


def draft_matcher(live_signature: str, row: EntryVersion, entry: Entry, live: KnowledgeBase, *, text: str | None = None) -> Understander:
    key = (live_signature, row.id, row.updated_at, (text if text is not None else row.text).__hash__())
    with _MATCHERS_LOCK:
        if key in _MATCHERS:
            _MATCHERS.move_to_end(key)
            return _MATCHERS[key]
    matcher = Understander(draft_kb(live, entry))
    with _MATCHERS_LOCK:
        _MATCHERS[key] = matcher
        while len(_MATCHERS) > 4:
            _MATCHERS.popitem(last=False)
    return matcher


# --- the list ---------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def kb_list(request: Request, session: SessionDep, login: KbReaderPage, q: str = "", only: str = ""):
    """Every entry with its status, as_of date and stale flag; searchable."""
    rows = wf.kb_list(session, _files(request), query=q[:100])
    counts = {"stale": sum(1 for r in rows if r.stale), "open": sum(1 for r in rows if r.open_version is not None)}
    # why at the top: a version waiting for a second editor blocks publishing; it must not hide
    # below the fold among 37 rows
    reviews = [r for r in rows if r.open_version is not None and r.open_version.status == "review"]
    if only == "stale":
        rows = [r for r in rows if r.stale]
    elif only == "open":
        rows = [r for r in rows if r.open_version is not None]
    session.commit()
    return render(request, "console/kb/list.html", login, title="知識ベース", rows=rows, q=q, only=only, counts=counts, reviews=reviews,
                  status_labels=STATUS_LABELS, review_labels=REVIEW_KINDS, flash=done_message(request))


@router.get("/new", response_class=HTMLResponse)
def new_entry_form(request: Request, login: EditorPage):
    return render(request, "console/kb/new.html", login, title="新しい項目", entry_id="", entry_title="", questions="")


@router.post("/new")
@refused_with(_new_entry_refused)
def new_entry(request: Request, session: SessionDep, login: EditorPage, entry_id: str = Form(""), title: str = Form(""), questions: str = Form("")):
    """Starts a draft for a new entry."""
    entry_id = entry_id.strip()
    fields = EntryFields(title=title.strip()[:120], answer="", questions=split_lines(questions)[:200])
    wf.check_new_entry(session, login.user, _files(request), entry_id)
    row = wf.do_new_entry(session, login.user, entry_id, fields)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}", status_code=303)


# --- one entry --------------------------------------------------------------------------------

@router.get("/e/{entry_id}", response_class=HTMLResponse)
def entry_page(request: Request, session: SessionDep, login: KbReaderPage, entry_id: str):
    """The published entry: its preview, its open version and its history."""
    files = _files(request)
    text = files.read(entry_id) if ENTRY_ID.match(entry_id) else None
    if text is None:
        return _not_found(request, login)
    entry = parse_entry(text)
    rows = wf.history(session, entry_id)
    published = wf.published_version(session, entry_id)
    return render(request, "console/kb/entry.html", login, title=entry.title, entry=entry, open_version=wf.open_version(session, entry_id),
                  history=rows, stale=wf.stale_reasons(entry, published, files), status_labels=STATUS_LABELS,
                  flash=done_message(request, version=entry.version), **preview_context(request, entry))


@router.post("/e/{entry_id}/draft")
@refused_with(_entry_refused)
def start_draft(request: Request, session: SessionDep, login: EditorPage, entry_id: str):
    """Opens the editor's draft of an entry (starting one from the published file if needed)."""
    files = _files(request)
    row = wf.check_start_draft(session, login.user, files, entry_id)
    if row is None:
        row = wf.do_start_draft(session, login.user, files, entry_id)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}", status_code=303)


def _entry_error(request, session, login, entry_id, exc: wf.WorkflowError):
    files = _files(request)
    text = files.read(entry_id)
    if text is None:
        return render(request, "console/message.html", login, status_code=409, title="できませんでした", message=exc.message)
    entry = parse_entry(text)
    return render(request, "console/kb/entry.html", login, status_code=409, title=entry.title, entry=entry,
                  open_version=wf.open_version(session, entry_id), history=wf.history(session, entry_id),
                  stale=wf.stale_reasons(entry, wf.published_version(session, entry_id), files), status_labels=STATUS_LABELS,
                  flash=exc.message, flash_kind="error", problems=exc.problems, **preview_context(request, entry))


# --- one version ------------------------------------------------------------------------------

def _version_page(request: Request, session, login, row: EntryVersion, *, status_code: int = 200, flash: str | None = None,
                  flash_kind: str = "ok", problems: list[str] | None = None, fields: EntryFields | None = None):
    files = _files(request)
    live = _live(request).kb
    entry = parse_version(row)
    is_editor = "editor" in login.user.role_set
    editable = is_editor and row.status == "draft" and row.author_id == login.user.id
    if problems is None and row.status in ("draft", "review"):
        problems = validate_text(row.text, row.entry_id, files, live)
    base = wf.published_version(session, row.entry_id) if row.status in ("draft", "review") else wf.previous_published(session, row)
    diff = diff_lines(readable(base.text) if base else "", readable(row.text))
    fields = fields or (EntryFields.of(entry) if entry else None)
    return render(
        request, "console/kb/version.html", login, status_code=status_code, title=f"{row.entry_id} v{row.version}",
        row=row, entry=entry, fields=fields, editable=editable, problems=problems or [], diff=diff, base=base,
        status_labels=STATUS_LABELS, can_review=is_editor and row.status == "review" and row.author_id != login.user.id,
        own_review=row.status == "review" and row.author_id == login.user.id, known_ids=sorted(live.entries),
        source_rows=max(MAX_SOURCE_ROWS - 5, len(fields.sources) + 1 if fields else 1),
        flash=flash or done_message(request, version=row.version), flash_kind=flash_kind,
        **(preview_context(request, entry) if entry else {"items": [], "line": None}),
    )


def parse_version(row: EntryVersion) -> Entry | None:
    return wf.parse_version(row)


@router.get("/v/{version_id}", response_class=HTMLResponse)
def version_page(request: Request, session: SessionDep, login: KbReaderPage, version_id: DbId):
    """A draft (editable by its author), a version in review (publishable by another editor), or history."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    return _version_page(request, session, login, row)


@router.post("/v/{version_id}/save")
@refused_with(_version_refused(409))
def save_draft(request: Request, session: SessionDep, login: EditorPage, version_id: DbId, form: FormDep):
    """Saves the draft as typed, then shows what still has to be fixed before review."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    fields = fields_from_form(form)
    wf.check_edit(login.user, row)
    wf.do_save_draft(session, login.user, row, fields)
    session.commit()
    if form.get("then") == "submit":
        # why through the route: a refused submit shows its own page (422, with the problems)
        return submit(request=request, session=session, login=login, version_id=version_id)
    return RedirectResponse(f"/console/kb/v/{row.id}?done=saved", status_code=303)


@router.post("/v/{version_id}/submit")
@refused_with(_version_refused(422, problems=True))
def submit(request: Request, session: SessionDep, login: EditorPage, version_id: DbId):
    """Sends a draft to review (refused, with the reasons, while kb check finds problems)."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    wf.check_submit(login.user, row, _files(request))
    wf.do_submit(session, login.user, row)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}?done=submitted", status_code=303)


@router.post("/v/{version_id}/withdraw")
@refused_with(_version_refused(409))
def withdraw(request: Request, session: SessionDep, login: EditorPage, version_id: DbId):
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    wf.check_withdraw(login.user, row)
    wf.do_withdraw(session, login.user, row)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}?done=withdrawn", status_code=303)


@router.post("/v/{version_id}/discard")
@refused_with(_version_refused(409))
def discard(request: Request, session: SessionDep, login: EditorPage, version_id: DbId):
    """Throws away the author's own draft (kept in history as 差し戻し/破棄)."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    wf.check_edit(login.user, row)
    wf.do_discard(session, login.user, row)
    session.commit()
    target = f"/console/kb/e/{row.entry_id}" if row.base_version is not None else "/console/kb"
    return RedirectResponse(target + "?done=discarded", status_code=303)


@router.post("/v/{version_id}/publish")
@refused_with(_version_refused(409, problems=True))
def publish(request: Request, session: SessionDep, login: EditorPage, version_id: DbId):
    """A second editor approves and publishes: the entry file is written and the bot reloads it."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    files = _files(request)
    wf.check_publish(session, login.user, row, files)
    wf.do_publish(session, login.user, row, files, ip=deps.client_ip(request))
    session.commit()
    request.app.state.runtime.reload()  # why: this process answers with it at once; others within a second
    return RedirectResponse(f"/console/kb/e/{row.entry_id}?done=published", status_code=303)


@router.post("/v/{version_id}/reject")
@refused_with(_version_refused(409))
def reject(request: Request, session: SessionDep, login: EditorPage, version_id: DbId, note: str = Form("")):
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    wf.check_reject(login.user, row)
    wf.do_reject(session, login.user, row, note=note)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}?done=rejected", status_code=303)


@router.post("/v/{version_id}/rollback")
@refused_with(_rollback_refused)
def rollback(request: Request, session: SessionDep, login: EditorPage, version_id: DbId):
    """Puts an older published text up for review as a new version."""
    target = wf.get_version(session, version_id)
    if target is None:
        return _not_found(request, login)
    files = _files(request)
    wf.check_rollback(session, login.user, files, target)
    row = wf.do_rollback(session, login.user, files, target)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}?done=rollback", status_code=303)


@router.post("/v/{version_id}/preview", response_class=HTMLResponse)
def preview(request: Request, session: SessionDep, login: EditorPage, version_id: DbId, form: FormDep):
    """The preview of the form as typed (not saved), for htmx."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    fields = fields_from_form(form)
    try:
        entry = parse_entry(entry_text(row.entry_id, row.version, fields))
    except EntryFormatError:
        return HTMLResponse('<p class="flash error">タイトルを入れるとプレビューできます。</p>')
    return render(request, "console/kb/_preview.html", login, **preview_context(request, entry))


@router.post("/v/{version_id}/try", response_class=HTMLResponse)
def try_it(request: Request, session: SessionDep, login: EditorPage, version_id: DbId, form: FormDep):
    """Which entry the live matcher and the draft matcher choose for a question.

    With the edit form's fields (htmx sends them along), the draft is the text on screen, saved
    or not; without them (no JavaScript), the saved version.
    """
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    question = str(form.get("question") or "").strip()[:500]
    knowledge = _live(request)
    text = row.text
    if form.get("title") is not None:
        try:
            text = entry_text(row.entry_id, row.version, fields_from_form(form))
        except (ValueError, TypeError):
            text = row.text
    try:
        entry = parse_entry(text)
    except EntryFormatError:
        entry = None
    if not question or entry is None:
        return render(request, "console/kb/_try.html", login, question=question, live=None, draft=None)
    live = knowledge.understander.classify(question)
    draft = draft_matcher(knowledge.signature, row, entry, knowledge.kb, text=text).classify(question)
    titles = {e.id: e.title for e in knowledge.kb} | {entry.id: entry.title}
    return render(request, "console/kb/_try.html", login, question=question, live=live, draft=draft, titles=titles, entry_id=row.entry_id)


@router.get("/v/{version_id}/diff", response_class=HTMLResponse)
def diff_page(request: Request, session: SessionDep, login: KbReaderPage, version_id: DbId, against: OptionalDbIdQuery = None):
    """The line diff of a version against the version before it (or ``against``)."""
    row = wf.get_version(session, version_id)
    if row is None:
        return _not_found(request, login)
    other = wf.get_version(session, against) if against else wf.previous_published(session, row)
    if other is not None and other.entry_id != row.entry_id:
        other = None
    return render(request, "console/kb/diff.html", login, title=f"{row.entry_id} v{row.version} の差分", row=row, other=other,
                  diff=diff_lines(readable(other.text) if other else "", readable(row.text)), status_labels=STATUS_LABELS)
