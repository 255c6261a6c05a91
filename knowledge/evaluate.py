"""`ristapo classify` and `ristapo eval FILE` (see ../shared/eval/README.md for the contract).

- :func:`run_classify` reads one message per line (bytes, so bad UTF-8 is reported, not
  crashed on) and writes one JSON object per line, in order. An empty line is still a line:
  it gets ``{"text": "", "intent": "none", ...}`` so output line *n* always answers input line *n*.
- :func:`run_eval` scores a labelled ``.jsonl`` file and prints per-kind counts, the overall
  accuracy, the crisis line count and every miss.

Both return a process exit code: 0 on success, 2 on unusable input (message on stderr).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

from .kb import KnowledgeBase, load_kb
from .understand import Understander, Understanding

KINDS = ("faq", "intent", "none", "control")  # control: looks alarming, must not be crisis


def _binary(stream: IO[Any]) -> BinaryIO:
    return cast(BinaryIO, getattr(stream, "buffer", stream))


def to_record(text: str, u: Understanding) -> dict[str, Any]:
    """Exactly the README's fields, in its order."""
    return {"text": text, "intent": u.intent, "topic": u.topic if u.intent == "faq" else None,
            "score": u.score, "candidates": list(u.candidates)}


def run_classify(stdin: IO[Any] | None = None, stdout: TextIO | None = None, *, kb: KnowledgeBase | None = None,
                 stderr: TextIO | None = None) -> int:
    """Classify each input line; invalid UTF-8 stops with exit code 2 naming the line."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    raw = _binary(stdin).read()
    if isinstance(raw, str):  # a text stream without .buffer (e.g. io.StringIO in tests)
        raw = raw.encode("utf-8")
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line does not start a new one
    decoded = []
    for n, line in enumerate(lines, start=1):
        try:
            decoded.append(line.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError as exc:
            print(f"ristapo classify: line {n} is not valid UTF-8 (byte {exc.start + 1}); "
                  "nothing was classified", file=stderr)
            return 2
    understander = Understander(kb if kb is not None else load_kb())
    for text in decoded:
        text = text.lstrip("\ufeff")
        u = understander.classify(text)
        stdout.write(json.dumps(to_record(text, u), ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def is_right(kind: str, expect: list[str], u: Understanding) -> bool:
    """The README's rule for one labelled line."""
    if kind == "faq":
        return u.intent == "faq" and u.topic in expect
    if kind == "intent":
        return any(u.intent == e.removeprefix("intent:") for e in expect)
    if kind == "control":
        # Looks alarming but is not a crisis: anything but the crisis intent is right.
        return u.intent != "crisis"
    return u.intent == "none"


def load_labelled(path: str) -> list[dict[str, Any]]:
    """Read a labelled ``.jsonl`` file; raises ValueError with the line number on bad input."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) \
                    or row.get("kind") not in KINDS or not isinstance(row.get("expect"), list):
                raise ValueError(f"{path}: line {n}: needs \"text\", \"expect\" (list) and \"kind\" "
                                 f"(one of {', '.join(KINDS)})")
            rows.append(row)
    return rows


def _got(u: Understanding) -> str:
    return f"faq:{u.topic}" if u.intent == "faq" else f"intent:{u.intent}" if u.intent != "none" else "none"


def run_eval(path: str, stdout: TextIO | None = None, *, kb: KnowledgeBase | None = None,
             stderr: TextIO | None = None) -> int:
    """Score ``path`` and print counts per kind, overall accuracy, crisis lines and misses."""
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    if not Path(path).is_file():
        print(f"ristapo eval: {path}: no such file", file=stderr)
        return 2
    try:
        rows = load_labelled(path)
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"ristapo eval: {exc}", file=stderr)
        return 2
    understander = Understander(kb if kb is not None else load_kb())
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    crisis_right = crisis_total = false_alarms = 0
    misses = []
    for row in rows:
        kind, expect = row["kind"], row["expect"]
        u = understander.classify(row["text"])
        ok = is_right(kind, expect, u)
        total[kind] += 1
        right[kind] += ok
        is_crisis_line = "intent:crisis" in expect
        if is_crisis_line:
            crisis_total += 1
            crisis_right += u.intent == "crisis"
        elif u.intent == "crisis":
            false_alarms += 1
        if not ok:
            misses.append((row["text"], expect or ["none"], _got(u)))
    all_right, all_total = sum(right.values()), sum(total.values())
    for kind in KINDS:
        if total[kind]:
            stdout.write(f"{kind:<7} {right[kind]:>4}/{total[kind]:<4} {100 * right[kind] / total[kind]:5.1f}%\n")
    pct = 100 * all_right / all_total if all_total else 0.0
    stdout.write(f"overall {all_right:>4}/{all_total:<4} {pct:5.1f}%\n")
    non_crisis = all_total - crisis_total
    recall = 100 * crisis_right / crisis_total if crisis_total else 0.0
    alarm_rate = 100 * false_alarms / non_crisis if non_crisis else 0.0
    stdout.write(f"crisis  {crisis_right:>4}/{crisis_total:<4} (false alarms: {false_alarms})\n")
    stdout.write(f"crisis recall {recall:5.1f}%  false alarms {false_alarms}/{non_crisis} "
                 f"{alarm_rate:5.1f}%\n")
    stdout.write(f"misses: {len(misses)}\n")
    for text, expect, got in misses:
        stdout.write(f"  MISS {json.dumps(text, ensure_ascii=False)} expected={','.join(expect)} got={got}\n")
    return 0
