"""kb_check: the real knowledge base passes; broken copies are caught."""
import shutil
from pathlib import Path

import pytest

from knowledge.kb import ENTRIES_DIR
from knowledge.kb_check import check_kb, default_seeds_dir, default_topics_path, main

TOPICS = default_topics_path()
SEEDS = default_seeds_dir()


@pytest.fixture
def entries(tmp_path: Path) -> Path:
    """A throwaway copy of the real entries to break."""
    target = tmp_path / "entries"
    shutil.copytree(ENTRIES_DIR, target)
    return target


def check(entries_dir: Path) -> list[str]:
    return check_kb(entries_dir, TOPICS, SEEDS)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_real_kb_passes():
    problems = check_kb()
    assert [p for p in problems if not p.startswith("note:")] == []


def test_main_reports_ok(capsys):
    assert main([]) == 0
    assert "entries OK" in capsys.readouterr().out


def test_copy_passes(entries):
    assert [p for p in check(entries) if not p.startswith("note:")] == []


def test_bad_related_id(entries):
    edit(entries / "sumai-ga-nai.md", "- kousei-kinkyu-hogo\n", "- no-such-entry\n")
    assert any("related id 'no-such-entry'" in p for p in check(entries))


def test_missing_topic(entries):
    (entries / "hogoshi.md").unlink()
    assert any("'hogoshi'" in p and "missing" in p for p in check(entries))


def test_too_long_answer(entries):
    path = entries / "kazoku.md"
    path.write_text(path.read_text(encoding="utf-8") + "あ" * 351 + "\n", encoding="utf-8")
    assert any("kazoku.md" in p and "characters" in p for p in check(entries))


@pytest.mark.skipif(SEEDS is None, reason="seed texts not available")
def test_quote_not_in_seed(entries):
    edit(entries / "kousei-hogo-shisetsu.md", "全国で102施設", "全国で103施設")
    assert any("quote not found" in p and "kousei-hogo-shisetsu" in p for p in check(entries))


@pytest.mark.skipif(SEEDS is None, reason="seed texts not available")
def test_unknown_seed_file(entries):
    text = (entries / "ristapo.md").read_text(encoding="utf-8")
    (entries / "ristapo.md").write_text(text.replace("001_de275907cca087f6.txt", "999_missing.txt", 1),
                                        encoding="utf-8")
    assert any("999_missing.txt" in p and "does not exist" in p for p in check(entries))


def test_yaml_error(entries):
    edit(entries / "tokumei.md", "title: ", "title: [unclosed ")
    assert any("tokumei.md" in p and "YAML error" in p for p in check(entries))


def test_id_must_equal_stem(entries):
    (entries / "himitsu.md").rename(entries / "himitsu-copy.md")
    problems = check(entries)
    assert any("himitsu-copy.md" in p and "differs from the file name" in p for p in problems)


def test_duplicate_id(entries):
    shutil.copy(entries / "himitsu.md", entries / "himitsu2.md")
    assert any("duplicate id 'himitsu'" in p for p in check(entries))


def test_public_source_needs_url(entries):
    edit(entries / "hogo-kansatsu.md", "  url: https://hakusyo1.moj.go.jp/jp/62/nfm/n62_2_2_5_2_0.html\n", "")
    assert any("hogo-kansatsu.md" in p and "has no url" in p for p in check(entries))


def test_missing_seeds_skip_quote_check_with_note(entries, tmp_path):
    problems = check_kb(entries, TOPICS, tmp_path / "no-seeds-here")
    assert problems == ["note: seed texts not found; quote check skipped"]
