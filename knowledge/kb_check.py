"""Validate the knowledge-base entries against the required topics and the seed texts.

``check_kb()`` returns human-readable problems (an empty list means the KB is fine);
``main()`` is what ``ristapo kb check`` calls.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from knowledge.kb import ENTRIES_DIR, Entry, EntryFormatError, parse_entry

MAX_ANSWER_CHARS = 350
MIN_QUESTIONS = 3
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


def check_entry(entry: Entry, stem: str, seeds: dict[str, str] | None, problems: list[str]) -> None:
    where = f"{stem}.md"
    if entry.id != stem:
        problems.append(f"{where}: id '{entry.id}' differs from the file name")
    if len(entry.answer) > MAX_ANSWER_CHARS:
        problems.append(f"{where}: answer is {len(entry.answer)} characters (max {MAX_ANSWER_CHARS})")
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


def main(argv: list[str] | None = None) -> int:
    """Print the problems one per line (or a one-line OK) and return the exit code."""
    import argparse

    parser = argparse.ArgumentParser(prog="ristapo kb check", description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=Path, default=None)
    parser.add_argument("--topics", type=Path, default=None)
    parser.add_argument("--seeds", type=Path, default=None)
    args = parser.parse_args(argv)
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
