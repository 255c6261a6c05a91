"""`classify` and `eval` runners: line-for-line output, clear errors, per-kind counts."""
import io
import json

import pytest

from knowledge.evaluate import run_classify, run_eval
from knowledge.kb import Entry, KnowledgeBase

FIELDS = ["text", "intent", "topic", "score", "candidates"]


@pytest.fixture(scope="module")
def kb():
    e = Entry(id="sumai-ga-nai", title="出所・釈放後に住む場所がない", answer="…",
              questions=("出所したけど住むところがない",), keywords=("住まい",))
    return KnowledgeBase({e.id: e})


class _Stdin:
    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)


def test_classify_answers_line_for_line_including_empty_lines(kb):
    lines = ["住むとこがない", "", "人と話したい", "明日の天気は?", "死にたい"]
    out, err = io.StringIO(), io.StringIO()
    code = run_classify(_Stdin("\n".join(lines).encode() + b"\n"), out, kb=kb, stderr=err)
    assert code == 0 and err.getvalue() == ""
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["text"] for r in rows] == lines
    assert all(list(r) == FIELDS for r in rows)
    assert [r["intent"] for r in rows] == ["faq", "none", "handoff", "none", "crisis"]
    assert rows[0]["topic"] == "sumai-ga-nai" and rows[0]["candidates"][0] == "sumai-ga-nai"
    assert all(r["topic"] is None for r in rows[1:])


def test_classify_handles_crlf_and_missing_final_newline(kb):
    out = io.StringIO()
    assert run_classify(_Stdin("こんにちは\r\nありがとう".encode()), out, kb=kb, stderr=io.StringIO()) == 0
    assert [json.loads(x)["intent"] for x in out.getvalue().splitlines()] == ["greeting", "thanks"]


def test_classify_invalid_utf8_exits_2_naming_the_line(kb):
    out, err = io.StringIO(), io.StringIO()
    data = "こんにちは\n".encode() + b"\xff\xfe bad\n" + "ありがとう\n".encode()
    code = run_classify(_Stdin(data), out, kb=kb, stderr=err)
    assert code == 2
    assert "line 2" in err.getvalue() and "UTF-8" in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert out.getvalue() == ""


def _write(tmp_path, rows):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def test_eval_prints_counts_per_kind_and_every_miss(kb, tmp_path):
    path = _write(tmp_path, [
        {"text": "住むとこがない", "expect": ["sumai-ga-nai"], "kind": "faq"},
        {"text": "天気おしえて", "expect": ["sumai-ga-nai"], "kind": "faq"},
        {"text": "人と話したい", "expect": ["intent:handoff"], "kind": "intent"},
        {"text": "もう消えたい", "expect": ["intent:crisis"], "kind": "intent"},
        {"text": "ラーメン屋おしえて", "expect": [], "kind": "none"},
        {"text": "こんにちは", "expect": [], "kind": "none"},
    ])
    out = io.StringIO()
    assert run_eval(path, out, kb=kb, stderr=io.StringIO()) == 0
    text = out.getvalue()
    assert "faq        1/2" in text
    assert "intent     2/2" in text
    assert "none       1/2" in text
    assert "overall    4/6" in text
    assert "crisis     1/1" in text
    assert "misses: 2" in text
    assert '"天気おしえて" expected=sumai-ga-nai got=none' in text
    assert '"こんにちは" expected=none got=intent:greeting' in text


def test_eval_missing_file_exits_2(kb, tmp_path):
    err = io.StringIO()
    assert run_eval(str(tmp_path / "nope.jsonl"), io.StringIO(), kb=kb, stderr=err) == 2
    assert "no such file" in err.getvalue()


def test_eval_bad_json_line_exits_2_with_line_number(kb, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "expect": [], "kind": "none"}\n{not json\n', encoding="utf-8")
    err = io.StringIO()
    assert run_eval(str(path), io.StringIO(), kb=kb, stderr=err) == 2
    assert "line 2" in err.getvalue() and "Traceback" not in err.getvalue()


def test_eval_scores_control_lines_as_false_alarms_when_crisis(kb, tmp_path):
    path = _write(tmp_path, [
        {"text": "もう死にたい", "expect": ["intent:crisis"], "kind": "intent"},
        {"text": "死ぬほど笑った", "expect": [], "kind": "control"},
        {"text": "死にたいって毎日思う", "expect": [], "kind": "control"},  # mislabelled on purpose
    ])
    out = io.StringIO()
    assert run_eval(path, out, kb=kb, stderr=io.StringIO()) == 0
    text = out.getvalue()
    assert "control    1/2" in text
    assert "crisis     1/1    (false alarms: 1)" in text
    assert "crisis recall 100.0%  false alarms 1/2  50.0%" in text
    assert '"死にたいって毎日思う" expected=none got=intent:crisis' in text
