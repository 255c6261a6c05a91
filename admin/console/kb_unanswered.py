"""Questions the bot could not answer, grouped by similarity, and turning them into entries.

An editor starts a new entry from a group, or adds the group's texts to an entry's questions
(in a draft, through the same workflow as any edit). Text is shown only where consent allowed
keeping it (admin.kb.unanswered).
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from admin import kb as wf
from admin.console import EditorPage, render
from admin.console.editor import _files, _live
from admin.console.refusals import refused_with
from admin.deps import FormDep, SessionDep, SignedIn
from knowledge.editorial.clusters import cluster_questions
from knowledge.editorial.entries import EntryFields

router = APIRouter(prefix="/console/kb", include_in_schema=False)


def _unanswered_refused(exc: wf.WorkflowError, *, request: Request, session, login: SignedIn, **_form) -> HTMLResponse:
    return _unanswered_page(request, session, login, error=exc.message)


def _paraphrase_refused(exc: wf.WorkflowError, *, request: Request, session, login: SignedIn, **_form) -> HTMLResponse:
    session.rollback()
    return _unanswered_page(request, session, login, error=exc.message)


@router.get("/unanswered", response_class=HTMLResponse)
def unanswered(request: Request, session: SessionDep, login: EditorPage):
    """Questions the bot could not answer, grouped by similarity; text only where consent allowed keeping it."""
    return _unanswered_page(request, session, login)


def _unanswered_page(request: Request, session, login, *, error: str | None = None):
    clusters, hidden = cluster_questions(wf.unanswered_questions(session))
    live = _live(request).kb
    return render(request, "console/kb/unanswered.html", login, status_code=409 if error else 200, title="答えられなかった質問",
                  clusters=clusters[:100], hidden=hidden, entries=sorted(live, key=lambda e: e.title),
                  titles={e.id: e.title for e in live}, flash=error, flash_kind="error")


@router.post("/unanswered/new")
@refused_with(_unanswered_refused)
def unanswered_new(request: Request, session: SessionDep, login: EditorPage, form: FormDep, entry_id: str = Form(""), title: str = Form("")):
    """Starts a new entry whose questions are the cluster's texts."""
    ids = [int(str(v)) for v in form.getlist("message_id") if str(v).isdigit()][:200]
    texts = wf.question_texts(session, ids)
    wf.check_new_entry(session, login.user, _files(request), entry_id.strip())
    fields = EntryFields(title=title.strip()[:120] or (texts[0] if texts else entry_id), answer="", questions=texts)
    row = wf.do_new_entry(session, login.user, entry_id.strip(), fields, note="答えられなかった質問から")
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}?done=from_cluster", status_code=303)


@router.post("/unanswered/paraphrase")
@refused_with(_paraphrase_refused)
def unanswered_paraphrase(request: Request, session: SessionDep, login: EditorPage, form: FormDep, entry_id: str = Form("")):
    """Adds the cluster's texts to an entry's questions, in a draft."""
    ids = [int(str(v)) for v in form.getlist("message_id") if str(v).isdigit()][:200]
    texts = wf.question_texts(session, ids)
    files = _files(request)
    if files.read(entry_id) is None:
        raise wf.WorkflowError("追加先の項目を選んでください。")
    row = wf.do_add_paraphrases(session, login.user, files, entry_id, texts)
    session.commit()
    return RedirectResponse(f"/console/kb/v/{row.id}?done=paraphrases", status_code=303)
