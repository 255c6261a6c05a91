"""Whether an entry text is fit to publish: the ``ristapo kb check`` rules, said in Japanese."""
from __future__ import annotations

import re
from pathlib import Path

from knowledge import kb_check
from knowledge.editorial.entries import KbFiles
from knowledge.kb import EntryFormatError, KnowledgeBase, load_kb, parse_entry

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
