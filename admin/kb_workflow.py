"""The editor workflow: draft → review → publish by a second editor, history, diff, rollback.

Files-first: the entry file is what the bot answers from, so publishing means writing the
file (atomically, with the version number raised) — the running bot reloads it within a
second, and git sees the change like any other edit. The database keeps every version.

Naming follows the rest of the project: ``check_*`` validates and authorises and raises
:class:`WorkflowError` with a message an editor can act on; ``do_*`` changes rows (and, for
publishing, the file) and writes the audit row. The caller owns the transaction.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, select

from admin import audit
from admin.kb_models import OPEN_STATUSES, EntryVersion, VersionStatus
from admin.models import StaffUser
from core.clock import now
from knowledge import kb_check
from knowledge.kb import Entry, EntryFormatError, KnowledgeBase, Source, dump_entry, load_kb, parse_entry

ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")
STALE_AFTER_MONTHS = 12


class WorkflowError(Exception):
    """An editor action that cannot happen; ``message`` is Japanese and says what to do."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


@dataclass(frozen=True)
class KbFiles:
    """Where the live entry files and the seed texts are."""

    entries_dir: Path
    seeds_dir: Path | None = None

    @classmethod
    def default(cls, entries_dir: Path) -> "KbFiles":
        return cls(Path(entries_dir), kb_check.default_seeds_dir())

    def entry_path(self, entry_id: str) -> Path:
        return self.entries_dir / f"{entry_id}.md"

    def read(self, entry_id: str) -> str | None:
        path = self.entry_path(entry_id)
        return path.read_text(encoding="utf-8") if path.exists() else None


# --- dates and staleness ---------------------------------------------------------------------

_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925}
_ERA_DATE = re.compile(r"(令和|平成|昭和)\s*(元|\d{1,2})\s*年(?:\s*(\d{1,2})\s*月)?(?:\s*(\d{1,2})\s*日)?")
_WESTERN = re.compile(r"((?:19|20)\d{2})\s*[年/.\-]\s*(\d{1,2})(?:\s*[月/.\-]\s*(\d{1,2}))?")
_YEAR_ONLY = re.compile(r"((?:19|20)\d{2})\s*年")


def parse_as_of(text: str) -> date | None:
    """The newest date an ``as_of`` string names (令和5年4月1日現在, 平成31年3月, 2024-04-01, 2024年4月).

    Why the newest: strings like 「令和3年4月1日施行(令和3年3月29日 通知)」 name several dates,
    and the information is as fresh as the latest of them.
    """
    text = unicodedata.normalize("NFKC", text or "")
    found: list[date | None] = []
    for m in _ERA_DATE.finditer(text):
        year = _ERAS[m.group(1)] + (1 if m.group(2) == "元" else int(m.group(2)))
        found.append(_safe_date(year, int(m.group(3) or 1), int(m.group(4) or 1)))
    for m in _WESTERN.finditer(text):
        found.append(_safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)))
    if not found:
        found += [_safe_date(int(m.group(1)), 1, 1) for m in _YEAR_ONLY.finditer(text)]
    dates = [d for d in found if d is not None]
    return max(dates) if dates else None


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


def seed_hashes(entry: Entry, seeds_dir: Path | None) -> dict[str, str]:
    """SHA-256 of each seed file the entry quotes (missing files are left out)."""
    hashes: dict[str, str] = {}
    if seeds_dir is None:
        return hashes
    for s in entry.sources:
        if s.seed and s.seed not in hashes:
            path = seeds_dir / s.seed
            if path.is_file():
                hashes[s.seed] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def stale_reasons(entry: Entry, published: EntryVersion | None, files: KbFiles, *, today: date | None = None) -> list[str]:
    """Why an entry should be re-checked: an old ``as_of`` or a seed changed since publish."""
    from admin.kb_staleness import date_reasons

    today = today or now().date()
    last_checked = published.published_at.date() if published is not None and published.published_at else None
    reasons = date_reasons(entry.as_of, parse_as_of(entry.as_of), last_checked, today)
    if published is not None and published.seed_hashes:
        recorded = json.loads(published.seed_hashes)
        current = seed_hashes(entry, files.seeds_dir)
        for seed, digest in recorded.items():
            if seed in current and current[seed] != digest:
                reasons.append(f"元資料 {seed} が公開後に変わりました")
    return reasons


# --- validation ------------------------------------------------------------------------------

_SEEDS_CACHE: dict[tuple[str, float], dict[str, str]] = {}

_JA_PROBLEMS = [
    (re.compile(r"answer shows (\d+) characters \(max (\d+)\)"), r"回答が \1 文字あります(\2 文字まで)。短くしてください。"),
    (re.compile(r"a sentence has (\d+) characters \(max (\d+)\): (.*)"), r"\1 文字の文があります(1文 \2 文字まで)。分けてください: \3"),
    (re.compile(r"unknown facet '(.+)' \(known: (.+)\)"), r"知らない facet「\1」です(使えるのは \2)。"),
    (re.compile(r"facet '(.+)' is (\d+) characters \(max (\d+)\)"), r"facet「\1」が \2 文字あります(\3 文字まで)。"),
    (re.compile(r"answer is empty"), "回答が空です。"),
    (re.compile(r"only (\d+) questions \(need at least (\d+)\)"), r"質問の言い方が \1 個しかありません(\2 個以上必要です)。"),
    (re.compile(r"no keywords"), "キーワードがありません。"),
    (re.compile(r"as_of is missing"), "基準日(as_of)がありません。"),
    (re.compile(r"no sources"), "出典がありません。"),
    (re.compile(r"id '(.+)' differs from the file name"), r"ID「\1」がファイル名と違います。"),
    (re.compile(r"source (\d+): seed '(.+)' has no quote"), r"出典 \1: 資料 \2 の引用がありません。"),
    (re.compile(r"source (\d+): seed file '(.+)' does not exist"), r"出典 \1: 資料ファイル \2 がありません。"),
    (re.compile(r"source (\d+): quote not found in (\S+): (.*)"), r"出典 \1: 引用が資料 \2 に見つかりません(\3)。資料の文言どおりに引用してください。"),
    (re.compile(r"source (\d+): public source '(.*)' has no url"), r"出典 \1: 「\2」の URL がありません。"),
    (re.compile(r"source (\d+): public source (\S+) has no name"), r"出典 \1: \2 の名前がありません。"),
    (re.compile(r"source (\d+): needs either 'seed' or 'name' \+ 'url'"), r"出典 \1: 資料ファイル(seed)か、名前と URL のどちらかが必要です。"),
    (re.compile(r"related id '(.+)' does not exist"), r"関連項目「\1」は存在しません。"),
]


def _japanese(problem: str) -> str:
    text = problem.split(": ", 1)[1] if ": " in problem else problem
    for pattern, repl in _JA_PROBLEMS:
        if pattern.search(text):
            return pattern.sub(repl, text)
    return problem


def _seeds(seeds_dir: Path | None) -> dict[str, str] | None:
    if seeds_dir is None or not seeds_dir.is_dir():
        return None
    key = (str(seeds_dir), seeds_dir.stat().st_mtime)
    if key not in _SEEDS_CACHE:
        _SEEDS_CACHE.clear()
        # why the private helper: quotes must be checked exactly as `ristapo kb check` does
        _SEEDS_CACHE[key] = {p.name: kb_check.squash(p.read_text(encoding="utf-8")) for p in seeds_dir.glob("*.txt")}
    return _SEEDS_CACHE[key]


def validate_text(text: str, entry_id: str, files: KbFiles, kb: KnowledgeBase | None = None) -> list[str]:
    """The problems ``ristapo kb check`` would report for this entry text, in Japanese."""
    try:
        entry = parse_entry(text, files.entry_path(entry_id))
    except EntryFormatError as exc:
        return [f"書式の誤り: {exc}"]
    problems: list[str] = []
    if not entry.title.strip():
        problems.append("タイトルが空です。")
    kb_check.check_entry(entry, entry_id, _seeds(files.seeds_dir), problems)
    known = set((kb or load_kb(files.entries_dir)).entries) | {entry_id}
    for rel in entry.related:
        if rel not in known:
            problems.append(f"{entry_id}.md: related id '{rel}' does not exist")
    return [_japanese(p) for p in problems]


# --- building entry text from the edit form --------------------------------------------------

@dataclass
class EntryFields:
    """What the edit form sends (lists already split, one item per line)."""

    title: str
    answer: str
    questions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    as_of: str = ""
    needs_place: bool = False
    # Not on the edit form: None keeps what the draft already had (see do_save_draft).
    facets: dict[str, str] | None = None
    readings: dict[str, str] | None = None
    review: str | None = None

    @classmethod
    def of(cls, entry: Entry) -> "EntryFields":
        return cls(entry.title, entry.answer, list(entry.questions), list(entry.keywords), list(entry.related),
                   list(entry.sources), entry.as_of, entry.needs_place, dict(entry.facets), dict(entry.readings), entry.review)


def split_lines(text: str) -> list[str]:
    """One item per line (or separated by 、 / , for keywords typed on one line); blanks dropped."""
    items = []
    for line in (text or "").replace("\r", "").split("\n"):
        line = line.strip()
        if line and line not in items:
            items.append(line)
    return items


def entry_text(entry_id: str, version: int, f: EntryFields) -> str:
    entry = Entry(
        id=entry_id,
        title=f.title.strip(),
        answer=f.answer.replace("\r", "").strip(),
        questions=tuple(f.questions),
        keywords=tuple(f.keywords),
        related=tuple(f.related),
        sources=tuple(s for s in f.sources if s.seed or s.name or s.url or s.quote),
        as_of=f.as_of.strip(),
        version=version,
        needs_place=f.needs_place,
        facets=dict(f.facets or {}),
        readings=dict(f.readings or {}),
        review=f.review,
    )
    return _dump(entry)


def _dump(entry: Entry) -> str:
    """``dump_entry`` plus an explicit ``needs_place: false``, as the entry files write it (no diff noise)."""
    text = dump_entry(entry)
    if not entry.needs_place:
        head, sep, body = text.partition("\n---\n")
        text = f"{head}\nneeds_place: false{sep}{body}"
    return text


def with_version(text: str, version: int) -> str:
    """The same entry text with its front-matter ``version`` set (re-serialised)."""
    entry = parse_entry(text)
    return _dump(replace(entry, version=version))


def parse_version(row: EntryVersion) -> Entry | None:
    try:
        return parse_entry(row.text)
    except EntryFormatError:
        return None


# --- queries ---------------------------------------------------------------------------------

def get_version(session: Session, version_id: int) -> EntryVersion | None:
    return session.get(EntryVersion, version_id)


def published_version(session: Session, entry_id: str) -> EntryVersion | None:
    q = select(EntryVersion).where(EntryVersion.entry_id == entry_id, EntryVersion.status == VersionStatus.published.value)
    return session.exec(q.order_by(EntryVersion.id.desc())).first()


def open_version(session: Session, entry_id: str) -> EntryVersion | None:
    q = select(EntryVersion).where(EntryVersion.entry_id == entry_id, EntryVersion.status.in_(OPEN_STATUSES))
    return session.exec(q.order_by(EntryVersion.id.desc())).first()


def open_versions(session: Session) -> dict[str, EntryVersion]:
    rows = session.exec(select(EntryVersion).where(EntryVersion.status.in_(OPEN_STATUSES)).order_by(EntryVersion.id)).all()
    return {r.entry_id: r for r in rows}


def published_versions(session: Session) -> dict[str, EntryVersion]:
    rows = session.exec(select(EntryVersion).where(EntryVersion.status == VersionStatus.published.value).order_by(EntryVersion.id)).all()
    return {r.entry_id: r for r in rows}


def history(session: Session, entry_id: str) -> list[EntryVersion]:
    """Every version of an entry, newest first."""
    q = select(EntryVersion).where(EntryVersion.entry_id == entry_id).order_by(EntryVersion.id.desc())
    return list(session.exec(q).all())


def _max_version(session: Session, entry_id: str, files: KbFiles) -> int:
    numbers = [r.version for r in history(session, entry_id) if r.status in (VersionStatus.published.value, VersionStatus.superseded.value)]
    text = files.read(entry_id)
    if text is not None:
        try:
            numbers.append(parse_entry(text).version)
        except EntryFormatError:
            pass
    return max(numbers, default=0)


@dataclass
class DiffLine:
    kind: str  # same | add | del | hunk
    text: str


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """A unified line diff of two entry texts (what changed between versions)."""
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            out.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            out.append(DiffLine("del", line[1:]))
        else:
            out.append(DiffLine("same", line[1:]))
    return out


def previous_published(session: Session, row: EntryVersion) -> EntryVersion | None:
    """The published (or since superseded) version just before ``row``, to diff against."""
    q = (
        select(EntryVersion)
        .where(
            EntryVersion.entry_id == row.entry_id,
            EntryVersion.id < row.id,
            EntryVersion.status.in_((VersionStatus.published.value, VersionStatus.superseded.value)),
        )
        .order_by(EntryVersion.id.desc())
    )
    return session.exec(q).first()


# --- the list ---------------------------------------------------------------------------------

@dataclass
class KbRow:
    entry_id: str
    title: str
    as_of: str
    version: int | None
    status: str  # published | draft | review | new
    open_version: EntryVersion | None
    stale: list[str]
    review: str | None = None  # "legal": the published wording waits for a legal check


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def kb_list(session: Session, files: KbFiles, *, query: str = "", today: date | None = None) -> list[KbRow]:
    """Every entry (files) plus new entries still in draft, filtered by ``query``.

    An entry file never recorded before is recorded here as published (caller commits).
    """
    kb = load_kb(files.entries_dir)
    open_rows = open_versions(session)
    published = published_versions(session)
    rows = []
    for entry in kb:
        pub = published.get(entry.id)
        if pub is None:
            # why: the seed hashes of this first record are what "a seed changed" is measured against
            pub = do_record_file_version(session, files, entry.id)
        op = open_rows.get(entry.id)
        stale = stale_reasons(entry, pub, files, today=today)
        if pub is not None and entry.path is not None and pub.text != entry.path.read_text(encoding="utf-8"):
            stale.append("ファイルが公開の記録と違います(git などで変更)。`ristapo kb publish` で記録してください")
        rows.append(KbRow(entry.id, entry.title, entry.as_of, entry.version, op.status if op else "published", op, stale, entry.review))
    for entry_id, op in open_rows.items():
        if kb.get(entry_id) is None:
            draft = parse_version(op)
            rows.append(KbRow(entry_id, draft.title if draft else entry_id, draft.as_of if draft else "", None, op.status, op, []))
    if query.strip():
        q = _fold(query.strip())
        haystacks = {e.id: _fold(" ".join([e.id, e.title, e.answer, *e.questions, *e.keywords])) for e in kb}
        rows = [r for r in rows if q in haystacks.get(r.entry_id, _fold(r.entry_id + " " + r.title))]
    return rows


# --- actions ----------------------------------------------------------------------------------

def _is_editor(user: StaffUser) -> bool:
    return "editor" in user.role_set and not user.disabled


def check_editor(user: StaffUser) -> None:
    if not _is_editor(user):
        raise WorkflowError("知識ベースの編集には「編集者」の役割が必要です。")


def do_record_file_version(session: Session, files: KbFiles, entry_id: str, *, actor: StaffUser | None = None, note: str = "file") -> EntryVersion | None:
    """Makes sure the entry file's current text is recorded as the published version.

    The files are the truth: a KB that has never been published through the console (or was
    edited in git) gets its file text recorded here. Returns the published row (None when the
    file does not exist).
    """
    text = files.read(entry_id)
    if text is None:
        return None
    pub = published_version(session, entry_id)
    if pub is not None and pub.text == text:
        return pub
    entry = parse_entry(text, files.entry_path(entry_id))
    if pub is not None:
        pub.status = VersionStatus.superseded.value
        session.add(pub)
    at = now()
    row = EntryVersion(
        entry_id=entry_id,
        version=entry.version,
        base_version=pub.version if pub else None,
        status=VersionStatus.published.value,
        text=text,
        author_id=actor.id if actor else None,
        author_name=actor.username if actor else None,
        note=note,
        created_at=at,
        updated_at=at,
        published_at=at,
        seed_hashes=json.dumps(seed_hashes(entry, files.seeds_dir), sort_keys=True),
    )
    session.add(row)
    session.flush()
    return row


def check_start_draft(session: Session, editor: StaffUser, files: KbFiles, entry_id: str) -> EntryVersion | None:
    """Authorises starting (or continuing) a draft; returns the editor's own open draft if any."""
    check_editor(editor)
    if files.read(entry_id) is None:
        raise WorkflowError("この項目はまだありません。")
    current = open_version(session, entry_id)
    if current is None:
        return None
    if current.status == VersionStatus.draft.value and current.author_id == editor.id:
        return current
    who = current.author_name or "別の編集者"
    what = "確認待ちです" if current.status == VersionStatus.review.value else "編集中です"
    raise WorkflowError(f"この項目は {who} さんの版(v{current.version})が{what}。それが公開されるか差し戻されてから編集してください。")


def do_start_draft(session: Session, editor: StaffUser, files: KbFiles, entry_id: str, *, fields: EntryFields | None = None, note: str | None = None) -> EntryVersion:
    """Starts a draft from the published entry file (precondition: :func:`check_start_draft` passed)."""
    base = do_record_file_version(session, files, entry_id)
    assert base is not None
    version = _max_version(session, entry_id, files) + 1
    text = entry_text(entry_id, version, fields) if fields else with_version(base.text, version)
    return _new_draft(session, editor, entry_id, version, base.version, text, note=note)


def _new_draft(session: Session, editor: StaffUser, entry_id: str, version: int, base_version: int | None, text: str, *, note: str | None = None, status: str = VersionStatus.draft.value) -> EntryVersion:
    at = now()
    row = EntryVersion(entry_id=entry_id, version=version, base_version=base_version, status=status, text=text,
                       author_id=editor.id, author_name=editor.username, note=note, created_at=at, updated_at=at,
                       submitted_at=at if status == VersionStatus.review.value else None)
    session.add(row)
    session.flush()
    audit.record(session, action="kb.draft" if status == VersionStatus.draft.value else "kb.submit",
                 actor_id=editor.id, actor_name=editor.username, target=f"entry:{entry_id}", detail=f"v{version}")
    return row


def check_new_entry(session: Session, editor: StaffUser, files: KbFiles, entry_id: str) -> None:
    check_editor(editor)
    if not ENTRY_ID.match(entry_id or ""):
        raise WorkflowError("ID は半角英小文字・数字・ハイフンで 2〜61 文字にしてください(例: shigoto-sagashi)。")
    if files.read(entry_id) is not None or open_version(session, entry_id) is not None:
        raise WorkflowError(f"ID「{entry_id}」はすでに使われています。別の ID にしてください。")


def do_new_entry(session: Session, editor: StaffUser, entry_id: str, fields: EntryFields, *, note: str | None = None) -> EntryVersion:
    """Starts a draft for an entry that does not exist yet (precondition: :func:`check_new_entry`)."""
    return _new_draft(session, editor, entry_id, 1, None, entry_text(entry_id, 1, fields), note=note)


def check_edit(editor: StaffUser, row: EntryVersion) -> None:
    check_editor(editor)
    if row.status != VersionStatus.draft.value:
        raise WorkflowError("この版は下書きではないので編集できません。")
    if row.author_id != editor.id:
        raise WorkflowError(f"この下書きは {row.author_name} さんのものです。")


def do_save_draft(session: Session, editor: StaffUser, row: EntryVersion, fields: EntryFields) -> None:
    """Stores the edited text, valid or not, so no work is lost (precondition: :func:`check_edit`)."""
    if fields.facets is None or fields.readings is None:
        # why: the form does not edit facets, readings or the review mark; saving must not drop them
        try:
            before = parse_entry(row.text)
        except EntryFormatError:
            before = None
        if before is not None:
            fields = replace(fields, facets=dict(before.facets) if fields.facets is None else fields.facets,
                             readings=dict(before.readings) if fields.readings is None else fields.readings,
                             review=before.review if fields.review is None else fields.review)
    row.text = entry_text(row.entry_id, row.version, fields)
    row.updated_at = now()
    session.add(row)
    session.flush()


def check_submit(editor: StaffUser, row: EntryVersion, files: KbFiles) -> None:
    check_edit(editor, row)
    problems = validate_text(row.text, row.entry_id, files)
    if problems:
        raise WorkflowError("まだ確認に出せません。次の点を直してください(下書きは保存されています)。", problems)


def do_submit(session: Session, editor: StaffUser, row: EntryVersion) -> None:
    row.status = VersionStatus.review.value
    row.submitted_at = row.updated_at = now()
    session.add(row)
    audit.record(session, action="kb.submit", actor_id=editor.id, actor_name=editor.username, target=f"entry:{row.entry_id}", detail=f"v{row.version}")


def check_withdraw(editor: StaffUser, row: EntryVersion) -> None:
    check_editor(editor)
    if row.status != VersionStatus.review.value or row.author_id != editor.id:
        raise WorkflowError("確認待ちの自分の版だけ取り下げられます。")


def do_withdraw(session: Session, editor: StaffUser, row: EntryVersion) -> None:
    """Takes a submitted version back into draft so its author can change it."""
    row.status = VersionStatus.draft.value
    row.submitted_at = None
    row.updated_at = now()
    session.add(row)
    audit.record(session, action="kb.withdraw", actor_id=editor.id, actor_name=editor.username, target=f"entry:{row.entry_id}", detail=f"v{row.version}")


def do_discard(session: Session, editor: StaffUser, row: EntryVersion) -> None:
    """Closes the author's own draft without publishing (precondition: :func:`check_edit`); it stays in history."""
    row.status = VersionStatus.rejected.value
    row.note = "作成者が破棄"
    row.updated_at = now()
    session.add(row)
    audit.record(session, action="kb.discard", actor_id=editor.id, actor_name=editor.username, target=f"entry:{row.entry_id}", detail=f"v{row.version}")


def _check_review(reviewer: StaffUser, row: EntryVersion) -> None:
    check_editor(reviewer)
    if row.status != VersionStatus.review.value:
        raise WorkflowError("この版は確認待ちではありません。")
    # why: two people see every text before users do (the four-eyes rule for public answers)
    if row.author_id == reviewer.id:
        raise WorkflowError("自分で書いた版は承認・差し戻しできません。別の編集者に確認してもらってください。")


def check_publish(session: Session, reviewer: StaffUser, row: EntryVersion, files: KbFiles) -> None:
    """A second editor may publish a version in review whose base is still the live file."""
    _check_review(reviewer, row)
    problems = validate_text(row.text, row.entry_id, files)
    if problems:
        raise WorkflowError("この版には問題があるので公開できません。差し戻してください。", problems)
    current = files.read(row.entry_id)
    if row.base_version is None:
        if current is not None:
            raise WorkflowError(f"同じ ID「{row.entry_id}」の項目がすでに公開されています。")
        return
    base = published_version(session, row.entry_id)
    if current is None or base is None or base.text != current or base.version != row.base_version:
        raise WorkflowError("この版を書き始めた後に、公開中の項目が変わりました(別の公開または git での変更)。差し戻して、新しい下書きからやり直してください。")


def write_entry_file(path: Path, text: str) -> None:
    """Writes ``text`` atomically: a temp file in the same folder, fsync, then os.replace.

    Why: the bot reloads whenever the folder changes; it must never read half a file.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def do_publish(session: Session, reviewer: StaffUser, row: EntryVersion, files: KbFiles, *, ip: str | None = None) -> None:
    """Publishes a reviewed version: rows, audit, then the entry file (precondition: :func:`check_publish`).

    The file is written last, after the rows are flushed, so a database error leaves the
    file untouched; if the commit fails after the write, ``ristapo kb publish`` records the
    file as it is.
    """
    old = published_version(session, row.entry_id)
    # why a conditional UPDATE: two reviewers pressing "publish" at once must not both succeed
    claimed = session.execute(
        update(EntryVersion).where(EntryVersion.id == row.id, EntryVersion.status == VersionStatus.review.value)
        .values(status=VersionStatus.published.value)
    )
    if claimed.rowcount != 1:
        raise WorkflowError("この版はすでに公開または差し戻されています。")
    if old is not None and old.id != row.id:
        old.status = VersionStatus.superseded.value
        session.add(old)
    entry = parse_entry(row.text)
    at = now()
    row.status = VersionStatus.published.value
    row.reviewer_id = reviewer.id
    row.reviewer_name = reviewer.username
    row.reviewed_at = row.published_at = row.updated_at = at
    row.seed_hashes = json.dumps(seed_hashes(entry, files.seeds_dir), sort_keys=True)
    session.add(row)
    session.flush()
    audit.record(session, action="kb.publish", actor_id=reviewer.id, actor_name=reviewer.username, ip=ip,
                 target=f"entry:{row.entry_id}", detail=f"v{row.version} author:{row.author_id}")
    write_entry_file(files.entry_path(row.entry_id), row.text)


def check_reject(reviewer: StaffUser, row: EntryVersion) -> None:
    _check_review(reviewer, row)


def do_reject(session: Session, reviewer: StaffUser, row: EntryVersion, *, note: str = "") -> None:
    row.status = VersionStatus.rejected.value
    row.reviewer_id = reviewer.id
    row.reviewer_name = reviewer.username
    row.reviewed_at = row.updated_at = now()
    row.note = note.strip()[:200] or None
    session.add(row)
    audit.record(session, action="kb.reject", actor_id=reviewer.id, actor_name=reviewer.username, target=f"entry:{row.entry_id}", detail=f"v{row.version}")


def check_rollback(session: Session, editor: StaffUser, files: KbFiles, target: EntryVersion) -> None:
    check_editor(editor)
    if target.status not in (VersionStatus.published.value, VersionStatus.superseded.value):
        raise WorkflowError("戻せるのは公開したことのある版だけです。")
    if target.status == VersionStatus.published.value:
        raise WorkflowError("この版は今公開中です。")
    if open_version(session, target.entry_id) is not None:
        raise WorkflowError("この項目には編集中または確認待ちの版があります。先にそれを片づけてください。")
    if files.read(target.entry_id) is None:
        raise WorkflowError("この項目のファイルがありません。")


def do_rollback(session: Session, editor: StaffUser, files: KbFiles, target: EntryVersion) -> EntryVersion:
    """Submits the text of an older published version as a new version, for a second editor to publish."""
    base = do_record_file_version(session, files, target.entry_id)
    assert base is not None
    version = _max_version(session, target.entry_id, files) + 1
    return _new_draft(session, editor, target.entry_id, version, base.version, with_version(target.text, version),
                      note=f"v{target.version} に戻す", status=VersionStatus.review.value)


def do_sync_files(session: Session, files: KbFiles, *, actor: StaffUser | None = None) -> list[EntryVersion]:
    """Records every entry file whose text differs from its published row (``ristapo kb publish``)."""
    recorded = []
    for entry in load_kb(files.entries_dir):
        before = published_version(session, entry.id)
        row = do_record_file_version(session, files, entry.id, actor=actor, note="sync")
        if row is not None and row is not before:
            recorded.append(row)
    for row in recorded:
        audit.record(session, action="kb.publish", actor_id=actor.id if actor else None,
                     actor_name=actor.username if actor else "ristapo kb publish", target=f"entry:{row.entry_id}", detail=f"v{row.version} sync")
    return recorded


# --- unanswered questions ---------------------------------------------------------------------

UNANSWERED_DAYS = 90
CLUSTER_SIMILARITY = 62  # rapidfuzz WRatio on normalised text; 0..100


@dataclass
class Question:
    message_id: int
    text: str | None  # None: stored without consent, so there is no text to show
    reason: str  # abstained | asked_person
    guess: str | None  # the matcher's best candidate, when it had one


@dataclass
class Cluster:
    questions: list[Question]
    reasons: set[str]

    @property
    def label(self) -> str:
        return self.questions[0].text or ""

    @property
    def message_ids(self) -> list[int]:
        return [q.message_id for q in self.questions]


def unanswered_questions(session: Session, *, days: int = UNANSWERED_DAYS, limit: int = 2000) -> list[Question]:
    """User messages the bot could not answer: it abstained, or the user then asked for a person.

    "Abstained" is the engine's own mark on its reply (admin.unanswered), outside open hand-off
    tickets; a line written to staff, an intake answer or a place name typed on request is not a
    question the knowledge base failed. Only the message row is read: never the user, their
    pseudonym or the conversation.
    """
    from datetime import timedelta

    from admin.unanswered import INTENT_ABSTAINED, open_tickets
    from core.models import Message

    since = now() - timedelta(days=days)
    q = (
        select(Message.id, Message.conversation_id, Message.direction, Message.intent, Message.kind, Message.entry_id, Message.body, Message.created_at)
        .where(Message.created_at >= since)
        .order_by(Message.conversation_id, Message.created_at, Message.id)
        .limit(limit * 4)
    )
    rows = session.exec(q).all()
    tickets = open_tickets(session, (r[1] for r in rows))
    found: dict[int, Question] = {}
    last_question: dict[int, tuple] = {}
    last_line: dict[int, tuple] = {}
    for mid, conv, direction, intent, kind, entry_id, body, at in rows:
        if direction == "in":
            last_line[conv] = (mid, body)
            if intent == "handoff":
                prev = last_question.pop(conv, None)
                if prev is not None and prev[0] not in found:
                    found[prev[0]] = Question(prev[0], prev[1], "asked_person", prev[2])
            elif intent == "faq":
                last_question[conv] = (mid, body, entry_id)
            else:
                last_question.pop(conv, None)
        elif intent == INTENT_ABSTAINED:
            line = last_line.pop(conv, None)
            if line is not None and not tickets.covers(conv, at):
                found[line[0]] = Question(line[0], line[1], "abstained", None)
            last_question.pop(conv, None)
        elif kind == "handoff":
            # the 「人と話したい」 button leaves no inbound row; the ticket notice marks it
            prev = last_question.pop(conv, None)
            if prev is not None and prev[0] not in found:
                found[prev[0]] = Question(prev[0], prev[1], "asked_person", prev[2])
    return sorted(found.values(), key=lambda x: -x.message_id)[:limit]


def cluster_questions(questions: list[Question], *, threshold: int = CLUSTER_SIMILARITY) -> tuple[list[Cluster], int]:
    """Groups similar question texts (biggest group first); returns (clusters, count without text)."""
    from rapidfuzz import fuzz

    from knowledge.normalize import normalize

    clusters: list[tuple[str, Cluster]] = []
    hidden = 0
    for q in questions:
        if not q.text:
            hidden += 1
            continue
        norm = normalize(q.text)
        best, best_score = None, 0.0
        for key, cl in clusters:
            score = fuzz.WRatio(norm, key)
            if score > best_score:
                best, best_score = cl, score
        if best is not None and best_score >= threshold:
            best.questions.append(q)
            best.reasons.add(q.reason)
        else:
            clusters.append((norm, Cluster([q], {q.reason})))
    ordered = sorted((c for _k, c in clusters), key=lambda c: -len(c.questions))
    return ordered, hidden


def question_texts(session: Session, message_ids: list[int]) -> list[str]:
    """The stored (consented) texts of unanswered questions, for turning into paraphrases."""
    wanted = {q.message_id: q for q in unanswered_questions(session)}
    texts = []
    for mid in message_ids:
        q = wanted.get(mid)
        if q is not None and q.text:
            text = " ".join(q.text.split())[:200]
            if text not in texts:
                texts.append(text)
    return texts


def do_add_paraphrases(session: Session, editor: StaffUser, files: KbFiles, entry_id: str, texts: list[str]) -> EntryVersion:
    """Adds question texts to an entry's draft (started if needed; precondition: check_start_draft)."""
    row = check_start_draft(session, editor, files, entry_id) or do_start_draft(session, editor, files, entry_id)
    entry = parse_entry(row.text)
    fields = EntryFields.of(entry)
    fields.questions += [t for t in texts if t not in fields.questions]
    do_save_draft(session, editor, row, fields)
    return row
