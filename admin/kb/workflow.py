"""The editor workflow: draft → review → publish by a second editor, history, rollback.

Files-first: the entry file is what the bot answers from, so publishing means writing the
file (atomically, with the version number raised) — the running bot reloads it within a
second, and git sees the change like any other edit. The database keeps every version.

Naming follows the rest of the project: ``check_*`` validates and authorises and raises
:class:`WorkflowError` with a message an editor can act on; ``do_*`` changes rows (and, for
publishing, the file) and writes the audit row. The caller owns the transaction.
"""
from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import update
from sqlmodel import Session, col

from admin import audit
from admin.kb.queries import max_version, open_version, published_version
from admin.kb_models import EntryVersion, VersionStatus
from admin.models import StaffUser
from core.clock import now
from knowledge.editorial.entries import ENTRY_ID, EntryFields, KbFiles, entry_text, with_version, write_entry_file
from knowledge.editorial.staleness import seed_hashes
from knowledge.editorial.validation import validate_text
from knowledge.kb import EntryFormatError, load_kb, parse_entry


class WorkflowError(Exception):
    """An editor action that cannot happen; ``message`` is Japanese and says what to do."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []



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
    version = max_version(session, entry_id, files) + 1
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


def do_publish(session: Session, reviewer: StaffUser, row: EntryVersion, files: KbFiles, *, ip: str | None = None) -> None:
    """Publishes a reviewed version: rows, audit, then the entry file (precondition: :func:`check_publish`).

    The file is written last, after the rows are flushed, so a database error leaves the
    file untouched; if the commit fails after the write, ``ristapo kb publish`` records the
    file as it is.
    """
    old = published_version(session, row.entry_id)
    # why a conditional UPDATE: two reviewers pressing "publish" at once must not both succeed
    claimed = session.exec(
        update(EntryVersion).where(col(EntryVersion.id) == row.id, col(EntryVersion.status) == VersionStatus.review.value)
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
    version = max_version(session, target.entry_id, files) + 1
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
