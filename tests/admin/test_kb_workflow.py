"""The editor workflow: draft → review → publish by a second editor, history, rollback, stale."""
from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date

import pytest
from sqlmodel import select

from admin import kb as wf
from admin.kb_models import EntryVersion
from admin.models import AuditEvent
from core import db
from knowledge.editorial.diff import diff_lines
from knowledge.editorial.entries import EntryFields, KbFiles
from knowledge.editorial.eras import parse_as_of
from knowledge.kb import Source, parse_entry
from tests.conftest import ChatDriver
from tests.kb_helpers import copy_entries, make_staff

ENTRY = "soudan-muryo"
NEW_TEXT = "りすたぽへの相談は無料です。名前を言わなくても相談できます。まずは気軽に書いてください。"


@pytest.fixture
def kb(settings, tmp_path):
    """A private copy of the entries, a runtime that checks them on every access, two editors."""
    from bot import runtime

    entries = copy_entries(tmp_path)
    rt = runtime.Runtime(entries, check_every=0)
    runtime.set_runtime(rt)
    files = KbFiles.default(entries)
    with db.session_scope() as s:
        alice = make_staff(s, "alice", ["editor"])
        bob = make_staff(s, "bob", ["editor", "staff"])
        carol = make_staff(s, "carol", ["staff"])
    return type("KB", (), {"files": files, "rt": rt, "alice": alice, "bob": bob, "carol": carol, "entries": entries})


def _draft_with_answer(s, kb, editor, answer=NEW_TEXT) -> EntryVersion:
    assert wf.check_start_draft(s, editor, kb.files, ENTRY) is None
    row = wf.do_start_draft(s, editor, kb.files, ENTRY)
    fields = EntryFields.of(parse_entry(row.text))
    fields.answer = answer
    wf.check_edit(editor, row)
    wf.do_save_draft(s, editor, row, fields)
    return row


def test_draft_review_publish_by_second_editor_and_bot_answers_new_text(kb):
    before = parse_entry((kb.entries / f"{ENTRY}.md").read_text(encoding="utf-8"))
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.check_submit(kb.alice, row, kb.files)
        wf.do_submit(s, kb.alice, row)
        row_id = row.id
    # the draft is not live yet
    assert parse_entry((kb.entries / f"{ENTRY}.md").read_text(encoding="utf-8")).answer == before.answer

    with db.session_scope() as s:
        row = s.get(EntryVersion, row_id)
        wf.check_publish(s, kb.bob, row, kb.files)
        wf.do_publish(s, kb.bob, row, kb.files, ip="127.0.0.1")

    published = parse_entry((kb.entries / f"{ENTRY}.md").read_text(encoding="utf-8"))
    assert published.answer == NEW_TEXT
    assert published.version == before.version + 1
    assert not list(kb.entries.glob(".*.tmp")), "the atomic write leaves no temp file"

    chat = ChatDriver(kb.rt)  # the same runtime object as before: no restart
    chat.say("こんにちは")
    chat.press("c:y")
    chat.say("相談するのにお金はかかりますか")
    answer = [m for m in chat.last if m.kind == "answer"][0]
    # the entry's cost facet answers the question first; the published text follows
    assert answer.entry_id == ENTRY and answer.text.endswith(NEW_TEXT)
    assert answer.entry_version == before.version + 1

    with db.session_scope() as s:
        rows = wf.history(s, ENTRY)
        assert [r.status for r in rows] == ["published", "superseded"]
        assert rows[0].author_id == kb.alice.id and rows[0].reviewer_id == kb.bob.id


def test_author_cannot_approve_or_reject_own_version(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
        with pytest.raises(wf.WorkflowError, match="自分で書いた版"):
            wf.check_publish(s, kb.alice, row, kb.files)
        with pytest.raises(wf.WorkflowError, match="自分で書いた版"):
            wf.check_reject(kb.alice, row)


def test_non_editor_cannot_draft(kb):
    with db.session_scope() as s, pytest.raises(wf.WorkflowError, match="編集者"):
        wf.check_start_draft(s, kb.carol, kb.files, ENTRY)


def test_second_editor_cannot_edit_someone_elses_open_draft(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        assert wf.check_start_draft(s, kb.alice, kb.files, ENTRY).id == row.id  # continue own draft
        with pytest.raises(wf.WorkflowError, match="alice さん"):
            wf.check_start_draft(s, kb.bob, kb.files, ENTRY)


def test_validation_errors_keep_the_draft_and_say_what_to_fix(kb):
    long_answer = "あ" * 400
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice, answer=long_answer)
        row_id = row.id
        with pytest.raises(wf.WorkflowError) as err:
            wf.check_submit(kb.alice, row, kb.files)
    assert "下書きは保存されています" in err.value.message
    assert any("400 文字" in p and "300 文字まで" in p for p in err.value.problems)
    with db.session_scope() as s:
        row = s.get(EntryVersion, row_id)
        assert row.status == "draft" and parse_entry(row.text).answer == long_answer


def test_reject_then_author_starts_again(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
        wf.check_reject(kb.bob, row)
        wf.do_reject(s, kb.bob, row, note="出典を確認してください")
        assert row.status == "rejected"
        assert wf.check_start_draft(s, kb.alice, kb.files, ENTRY) is None


def test_rollback_is_a_new_version_published_by_a_second_editor(kb):
    original = (kb.entries / f"{ENTRY}.md").read_text(encoding="utf-8")
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
        wf.do_publish(s, kb.bob, row, kb.files)
    with db.session_scope() as s:
        old = [r for r in wf.history(s, ENTRY) if r.status == "superseded"][0]
        wf.check_rollback(s, kb.alice, kb.files, old)
        back = wf.do_rollback(s, kb.alice, kb.files, old)
        assert back.status == "review" and back.version == old.version + 2
        wf.check_publish(s, kb.bob, back, kb.files)
        wf.do_publish(s, kb.bob, back, kb.files)
    now_text = parse_entry((kb.entries / f"{ENTRY}.md").read_text(encoding="utf-8"))
    assert now_text.answer == parse_entry(original).answer
    assert now_text.version == parse_entry(original).version + 2
    with db.session_scope() as s:
        assert [r.version for r in wf.history(s, ENTRY)] == [now_text.version, now_text.version - 1, now_text.version - 2]


def test_history_diff_shows_changed_lines(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
        wf.do_publish(s, kb.bob, row, kb.files)
        prev = wf.previous_published(s, row)
        lines = diff_lines(prev.text, row.text)
    added = [ln.text for ln in lines if ln.kind == "add"]
    removed = [ln.text for ln in lines if ln.kind == "del"]
    assert NEW_TEXT in added
    assert any(t.startswith("version:") for t in added) and any(t.startswith("version:") for t in removed)


def test_publish_refused_when_the_file_changed_meanwhile(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
    path = kb.entries / f"{ENTRY}.md"
    path.write_text(path.read_text(encoding="utf-8").replace("無料", "無料(git で変更)", 1), encoding="utf-8")
    with db.session_scope() as s:
        row = s.get(EntryVersion, row.id)
        with pytest.raises(wf.WorkflowError, match="公開中の項目が変わりました"):
            wf.check_publish(s, kb.bob, row, kb.files)


def test_every_publish_is_audited(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
        wf.do_publish(s, kb.bob, row, kb.files, ip="10.0.0.9")
    with db.session_scope() as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "kb.publish")).all()
    assert len(events) == 1
    ev = events[0]
    assert (ev.actor_id, ev.target, ev.ip) == (kb.bob.id, f"entry:{ENTRY}", "10.0.0.9")
    assert ev.detail.startswith(f"v{row.version}")


def test_new_entry_draft_and_publish(kb):
    fields = EntryFields(
        title="テストの新しい項目",
        answer="新しい項目の回答です。",
        questions=["新しい質問その一", "新しい質問その二", "新しい質問その三"],
        keywords=["新しい"],
        sources=[Source(name="法務省", url="https://www.moj.go.jp/")],
        as_of="令和8年4月1日現在",
    )
    with db.session_scope() as s:
        with pytest.raises(wf.WorkflowError, match="すでに使われています"):
            wf.check_new_entry(s, kb.alice, kb.files, ENTRY)
        with pytest.raises(wf.WorkflowError, match="半角英小文字"):
            wf.check_new_entry(s, kb.alice, kb.files, "Bad ID")
        wf.check_new_entry(s, kb.alice, kb.files, "test-new")
        row = wf.do_new_entry(s, kb.alice, "test-new", fields)
        wf.check_submit(kb.alice, row, kb.files)
        wf.do_submit(s, kb.alice, row)
        wf.check_publish(s, kb.bob, row, kb.files)
        wf.do_publish(s, kb.bob, row, kb.files)
    assert parse_entry((kb.entries / "test-new.md").read_text(encoding="utf-8")).version == 1
    assert kb.rt.knowledge.kb.get("test-new") is not None


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("令和5年4月1日現在（法務省保護局資料）", date(2023, 4, 1)),
        ("令和元年5月", date(2019, 5, 1)),
        ("平成31年3月31日", date(2019, 3, 31)),
        ("令和３年３月２９日", date(2021, 3, 29)),
        ("2024-04-01", date(2024, 4, 1)),
        ("2026年11月 このサービスの説明", date(2026, 11, 1)),
        ("令和3年4月1日施行（令和3年3月29日 厚生労働省通知）", date(2021, 4, 1)),
        ("法務省保護局資料による", None),
    ],
)
def test_parse_as_of(as_of, expected):
    assert parse_as_of(as_of) == expected


def test_stale_flag_for_old_as_of_and_changed_seed(kb, tmp_path):
    entry = parse_entry((kb.entries / f"{ENTRY}.md").read_text(encoding="utf-8"))
    seeds = tmp_path / "seeds"
    shutil.copytree(kb.files.seeds_dir, seeds)
    files = KbFiles(kb.entries, seeds)
    fresh = replace(entry, as_of="令和8年4月1日現在")
    assert wf.stale_reasons(fresh, None, files, today=date(2026, 11, 1)) == []
    old = replace(entry, as_of="令和6年10月1日現在")
    assert any("12か月以上前" in r for r in wf.stale_reasons(old, None, files, today=date(2026, 11, 1)))

    with db.session_scope() as s:
        published = wf.do_record_file_version(s, files, ENTRY)
    seed = next(src.seed for src in entry.sources if src.seed)
    assert wf.stale_reasons(fresh, published, files, today=date(2026, 11, 1)) == []
    (seeds / seed).write_text((seeds / seed).read_text(encoding="utf-8") + "\n改訂", encoding="utf-8")
    assert any(seed in r for r in wf.stale_reasons(fresh, published, files, today=date(2026, 11, 1)))


def test_sync_records_file_edits_once(kb):
    with db.session_scope() as s:
        first = wf.do_sync_files(s, kb.files)
        assert len(first) == len(list(kb.entries.glob("*.md")))
        assert wf.do_sync_files(s, kb.files) == []
    path = kb.entries / f"{ENTRY}.md"
    path.write_text(path.read_text(encoding="utf-8").replace("version: ", "version: 1", 1), encoding="utf-8")
    with db.session_scope() as s:
        again = wf.do_sync_files(s, kb.files)
        assert [r.entry_id for r in again] == [ENTRY]


def test_kb_publish_cli_records_files_after_check(kb, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("RISTAPO_KB_DIR", str(kb.entries))
    from core.settings import get_settings

    get_settings.cache_clear()
    assert main(["kb", "publish"]) == 0
    assert "entries recorded" in capsys.readouterr().out
    with db.session_scope() as s:
        assert wf.published_version(s, ENTRY) is not None
    broken = kb.entries / f"{ENTRY}.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace("as_of:", "as_ofx:"), encoding="utf-8")
    assert main(["kb", "publish"]) == 1
    assert "as_of is missing" in capsys.readouterr().out


def test_publish_twice_is_refused(kb):
    from sqlmodel import Session

    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        wf.do_submit(s, kb.alice, row)
    with Session(db.engine()) as first, Session(db.engine()) as second:
        mine, theirs = first.get(EntryVersion, row.id), second.get(EntryVersion, row.id)
        wf.check_publish(first, kb.bob, mine, kb.files)
        wf.check_publish(second, kb.bob, theirs, kb.files)  # both pages showed "publish"
        wf.do_publish(first, kb.bob, mine, kb.files)
        first.commit()
        with pytest.raises(wf.WorkflowError, match="すでに公開"):
            wf.do_publish(second, kb.bob, theirs, kb.files)
        second.rollback()


def test_list_records_a_baseline_and_flags_git_edits(kb):
    with db.session_scope() as s:
        rows = {r.entry_id: r for r in wf.kb_list(s, kb.files, today=date(2026, 11, 1))}
        assert wf.published_version(s, ENTRY) is not None
        assert not any("ファイルが公開の記録と違います" in x for x in rows[ENTRY].stale)
    path = kb.entries / f"{ENTRY}.md"
    path.write_text(path.read_text(encoding="utf-8").replace("無料", "無料です", 1), encoding="utf-8")
    with db.session_scope() as s:
        rows = {r.entry_id: r for r in wf.kb_list(s, kb.files, today=date(2026, 11, 1))}
        assert any("ristapo kb publish" in x for x in rows[ENTRY].stale)


def test_author_discards_own_draft_and_can_start_again(kb):
    with db.session_scope() as s:
        row = _draft_with_answer(s, kb, kb.alice)
        with pytest.raises(wf.WorkflowError):
            wf.check_edit(kb.bob, row)
        wf.check_edit(kb.alice, row)
        wf.do_discard(s, kb.alice, row)
        assert wf.open_version(s, ENTRY) is None
        assert wf.check_start_draft(s, kb.bob, kb.files, ENTRY) is None


def test_saving_from_the_form_keeps_facets_readings_and_review(kb):
    from starlette.datastructures import FormData

    from admin.console.editor import fields_from_form

    with db.session_scope() as s:
        row = wf.do_start_draft(s, kb.alice, kb.files, "kousei-kinkyu-hogo")
        before = parse_entry(row.text)
        form = FormData([("title", before.title), ("answer", before.answer + "\n追記です。"), ("questions", "\n".join(before.questions)),
                         ("keywords", "\n".join(before.keywords)), ("as_of", before.as_of)])
        wf.do_save_draft(s, kb.alice, row, fields_from_form(form))
        after = parse_entry(row.text)
    assert after.answer.endswith("追記です。")
    assert after.facets == before.facets and after.facets and after.readings == before.readings
