"""The knowledge base as editors change it, in the database: versions, review, publish, history.

``queries`` reads versions, ``workflow`` holds the ``check_*``/``do_*`` actions (draft → review
→ publish by a second editor, rollback, file sync), ``listing`` the editors' list with its
staleness marks, ``unanswered`` the questions the bot could not answer. What needs no database
(entry files, validation, diffs, staleness rules, clusters) is in ``knowledge.editorial``.
The names below are the package's interface; the console and the CLI import them from here.
"""
from __future__ import annotations

from admin.kb.listing import KbRow, kb_list, stale_reasons
from admin.kb.queries import (
    get_version,
    history,
    open_version,
    open_versions,
    parse_version,
    previous_published,
    published_version,
    published_versions,
)
from admin.kb.unanswered import UNANSWERED_DAYS, do_add_paraphrases, question_texts, unanswered_questions
from admin.kb.workflow import (
    WorkflowError,
    check_edit,
    check_editor,
    check_new_entry,
    check_publish,
    check_reject,
    check_rollback,
    check_start_draft,
    check_submit,
    check_withdraw,
    do_discard,
    do_new_entry,
    do_publish,
    do_record_file_version,
    do_reject,
    do_rollback,
    do_save_draft,
    do_start_draft,
    do_submit,
    do_sync_files,
    do_withdraw,
)

__all__ = [
    "UNANSWERED_DAYS", "KbRow", "WorkflowError",
    "check_edit", "check_editor", "check_new_entry", "check_publish", "check_reject", "check_rollback", "check_start_draft",
    "check_submit", "check_withdraw", "do_add_paraphrases", "do_discard", "do_new_entry", "do_publish", "do_record_file_version",
    "do_reject", "do_rollback", "do_save_draft", "do_start_draft", "do_submit", "do_sync_files", "do_withdraw",
    "get_version", "history", "kb_list", "open_version", "open_versions", "parse_version", "previous_published",
    "published_version", "published_versions", "question_texts", "stale_reasons", "unanswered_questions",
]
