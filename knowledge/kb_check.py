"""Validate the knowledge-base entries against the required topics and the seed texts.

``check_kb()`` returns human-readable problems (an empty list means the KB is fine);
``main()`` is what ``ristapo kb check`` calls.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from knowledge.furigana import missing_readings
from knowledge.kb import ENTRIES_DIR, FACET_NAMES, REVIEW_KINDS, Entry, EntryFormatError, parse_entry, render_answer

# Readability limits agreed for a phone screen (issue 18): the main answer as shown, and
# each sentence. Facets are one short answer each.
MAX_ANSWER_CHARS = 300
MAX_SENTENCE_CHARS = 60
MAX_FACET_CHARS = 120
MIN_QUESTIONS = 3
# Typical values for the placeholders, so the measured length is what a phone shows.
SAMPLE_VALUES = {"office_hours": "月曜日から金曜日の8時30分から17時15分まで(祝日と年末年始は休み)", "retention_days": "180"}
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|\n")
_KANJI_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々]")
PACKAGED_TOPICS = Path(__file__).parent / "topics.yaml"
_REPO_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_WS = re.compile(r"\s+")


def _find_shared(relative: str) -> Path | None:
    """Find ``shared/<relative>`` walking up from the cwd, then next to the repository."""
    candidates = []
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidates.append(folder / "shared" / relative)
    candidates.append(_REPO_SHARED / relative)
    for path in candidates:
        if path.exists():
            return path
    return None


def default_topics_path() -> Path | None:
    return _find_shared("kb/topics.yaml") or (PACKAGED_TOPICS if PACKAGED_TOPICS.exists() else None)


def default_seeds_dir() -> Path | None:
    return _find_shared("seeds")


def squash(text: str) -> str:
    # why: seeds are PDF extractions with line breaks inside sentences; quotes are
    # compared whitespace-insensitively so a quote may be written on one line.
    return _WS.sub("", text)


def _load_topic_ids(topics_path: Path, problems: list[str]) -> list[str]:
    try:
        data = yaml.safe_load(topics_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{topics_path}: cannot read topics: {exc}")
        return []
    return [t["id"] for t in data.get("topics") or [] if isinstance(t, dict) and t.get("id")]


def shown_text(entry: Entry) -> str:
    """The answer as a phone shows it (placeholders filled with typical values)."""
    return render_answer(entry.answer, SAMPLE_VALUES)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def readability(entry: Entry) -> dict[str, Any]:
    """Figures for one entry: shown length, longest sentence, kanji share, words without reading."""
    text = shown_text(entry)
    visible = re.sub(r"\s", "", text)
    longest = max(sentences(text), key=len, default="")
    kanji = len(_KANJI_CHAR.findall(visible))
    return {
        "chars": len(visible),
        "longest": len(longest),
        "longest_text": longest,
        "kanji_share": kanji / len(visible) if visible else 0.0,
        "no_reading": sorted(set(missing_readings(text, entry.readings))),
    }


def check_readability(entry: Entry, where: str, problems: list[str]) -> dict[str, Any]:
    figures = readability(entry)
    if figures["chars"] > MAX_ANSWER_CHARS:
        problems.append(f"{where}: answer shows {figures['chars']} characters (max {MAX_ANSWER_CHARS})")
    if figures["longest"] > MAX_SENTENCE_CHARS:
        problems.append(f"{where}: a sentence has {figures['longest']} characters (max {MAX_SENTENCE_CHARS}): {figures['longest_text'][:30]}…")
    return figures


def check_entry(entry: Entry, stem: str, seeds: dict[str, str] | None, problems: list[str]) -> None:
    where = f"{stem}.md"
    if entry.id != stem:
        problems.append(f"{where}: id '{entry.id}' differs from the file name")
    check_readability(entry, where, problems)
    for name, text in entry.facets.items():
        if name not in FACET_NAMES:
            problems.append(f"{where}: unknown facet '{name}' (known: {', '.join(FACET_NAMES)})")
        if not text:
            problems.append(f"{where}: facet '{name}' is empty")
        elif len(text) > MAX_FACET_CHARS:
            problems.append(f"{where}: facet '{name}' is {len(text)} characters (max {MAX_FACET_CHARS})")
    if entry.facets and len(entry.sources) < 2:
        problems.append(f"{where}: facets need their own source (add one to sources)")
    if entry.review is not None and entry.review not in REVIEW_KINDS:
        problems.append(f"{where}: unknown review '{entry.review}' (known: {', '.join(REVIEW_KINDS)})")
    if not entry.answer:
        problems.append(f"{where}: answer is empty")
    if len(entry.questions) < MIN_QUESTIONS:
        problems.append(f"{where}: only {len(entry.questions)} questions (need at least {MIN_QUESTIONS})")
    if not entry.keywords:
        problems.append(f"{where}: no keywords")
    if not entry.as_of.strip():
        problems.append(f"{where}: as_of is missing")
    if not entry.sources:
        problems.append(f"{where}: no sources")
    for n, source in enumerate(entry.sources, 1):
        label = f"{where}: source {n}"
        if source.seed:
            if not source.quote:
                problems.append(f"{label}: seed '{source.seed}' has no quote")
            elif seeds is not None:
                if source.seed not in seeds:
                    problems.append(f"{label}: seed file '{source.seed}' does not exist")
                elif squash(source.quote) not in seeds[source.seed]:
                    problems.append(f"{label}: quote not found in {source.seed}: {source.quote[:40]}…")
        elif source.name or source.url:
            if not source.url:
                problems.append(f"{label}: public source '{source.name}' has no url")
            if not source.name:
                problems.append(f"{label}: public source {source.url} has no name")
        else:
            problems.append(f"{label}: needs either 'seed' or 'name' + 'url'")


def check_kb(
    entries_dir: Path | str | None = None,
    topics_path: Path | str | None = None,
    seeds_dir: Path | str | None = None,
) -> list[str]:
    """Return the problems found in the knowledge base; an empty list means it is OK."""
    problems: list[str] = []
    entries_dir = Path(entries_dir) if entries_dir else ENTRIES_DIR
    topics_path = Path(topics_path) if topics_path else default_topics_path()
    seeds_path = Path(seeds_dir) if seeds_dir else default_seeds_dir()

    seeds: dict[str, str] | None = None
    if seeds_path and seeds_path.is_dir():
        seeds = {p.name: squash(p.read_text(encoding="utf-8")) for p in seeds_path.glob("*.txt")}
    else:
        problems.append("note: seed texts not found; quote check skipped")

    entries: dict[str, Entry] = {}
    seen_ids: dict[str, str] = {}
    paths = sorted(p for p in entries_dir.glob("*.md")
                   if not p.name.startswith(("_", ".")) and p.name.upper() != "README.MD")
    if not paths:
        problems.append(f"{entries_dir}: no entry files")
    for path in paths:
        try:
            entry = parse_entry(path.read_text(encoding="utf-8"), path)
        except EntryFormatError as exc:
            problems.append(str(exc))
            continue
        if entry.id in seen_ids:
            problems.append(f"{path.name}: duplicate id '{entry.id}' (also in {seen_ids[entry.id]})")
        seen_ids[entry.id] = path.name
        entries[entry.id] = entry
        check_entry(entry, path.stem, seeds, problems)

    for entry in entries.values():
        for rel in entry.related:
            if rel not in entries:
                problems.append(f"{entry.id}.md: related id '{rel}' does not exist")

    if topics_path is None:
        problems.append("topics.yaml not found; required topic ids not checked")
    else:
        for topic_id in _load_topic_ids(topics_path, problems):
            if topic_id not in entries:
                problems.append(f"missing entry for required topic '{topic_id}'")
    return problems


def figures_table(entries_dir: Path | None = None) -> list[str]:
    """One line per entry: shown length, longest sentence, kanji share, words without reading."""
    lines = [f"{'entry':28} {'chars':>5} {'sent':>4} {'kanji':>5}  no reading"]
    for path in sorted((entries_dir or ENTRIES_DIR).glob("*.md")):
        if path.name.startswith(("_", ".")) or path.name.upper() == "README.MD":
            continue
        try:
            entry = parse_entry(path.read_text(encoding="utf-8"), path)
        except EntryFormatError:
            continue
        f = readability(entry)
        flag = " *" if f["chars"] > MAX_ANSWER_CHARS or f["longest"] > MAX_SENTENCE_CHARS else ""
        lines.append(f"{entry.id:28} {f['chars']:>5} {f['longest']:>4} {f['kanji_share']:>5.0%}  {'、'.join(f['no_reading']) or '-'}{flag}")
    lines.append(f"limits: answer ≤ {MAX_ANSWER_CHARS} characters as shown, sentence ≤ {MAX_SENTENCE_CHARS}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the figures, then the problems one per line (or a one-line OK); return the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="ristapo kb check", description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=Path, default=None)
    parser.add_argument("--topics", type=Path, default=None)
    parser.add_argument("--seeds", type=Path, default=None)
    args = parser.parse_args(argv)
    for line in figures_table(args.entries):
        print(line)
    problems = check_kb(args.entries, args.topics, args.seeds)
    real = [p for p in problems if not p.startswith("note:")]
    for line in problems:
        print(line)
    if real:
        return 1
    count = len(list((args.entries or ENTRIES_DIR).glob("*.md")))
    print(f"kb check: {count} entries OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
