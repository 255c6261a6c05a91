"""Load knowledge-base entries: one Markdown file with YAML front matter per entry.

File format (``knowledge/entries/<id>.md``)::

    ---
    id: sumai-ga-nai
    title: 出所・釈放後に住む場所がない
    questions: [住むところがない, 出所したけど泊まる場所がない]
    keywords: [住まい, 家がない]
    related: [kousei-kinkyu-hogo, jiritsu-junbi-home]
    sources:
      - seed: 000_46021739e699323c.txt
        quote: "...the wording the answer rests on..."
      - name: 法務省「更生保護施設」
        url: https://www.moj.go.jp/...
        quote: "..."
        read: 2026-12-02   # optional: when the page was read
    as_of: 令和5年4月1日現在
    version: 1
    needs_place: false     # true: the answer lists local offices for the user's prefecture
    facets:                # optional: short answers to one kind of question (see FACET_NAMES)
      period: 原則として6か月までです。
    readings: {更生緊急保護: こうせいきんきゅうほご}   # optional: furigana overrides
    review: legal          # optional: the wording waits for a legal check (shown in the editor list)
    ---
    The answer body: plain, kind Japanese, one clear next step at the end.
    ``{office_hours}`` and ``{retention_days}`` are filled in by :func:`render_answer`.

A source may carry ``label``: the short name users see under the answer
(「出典: 法務省 犯罪白書 令和6年版」); ``name``, ``url`` and ``quote`` stay the full citation.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ENTRIES_DIR = Path(__file__).parent / "entries"
# Facets: short answers to one kind of question inside an entry (the engine picks one when
# the question asks for it). The names are fixed so that detection and display can rely on them.
FACET_NAMES = {
    "period": "期間(いつまで・どのくらい)",
    "cost": "費用(いくら)",
    "who": "対象(だれが使える)",
    "record": "前歴があっても使えるか",
    "where": "場所(どこへ行く)",
    "how": "手続(どう申し込む)",
}
REVIEW_KINDS = {"legal": "法務確認待ち"}
# Placeholders an answer may hold; the service fills them from settings (render_answer).
PLACEHOLDERS = ("office_hours", "retention_days")
# Human names of the seed documents, for the "出典" line users see (file names mean nothing to them).
SEED_NAMES = {
    "000": "法務省保護局の資料",
    "001": "再犯防止推進白書(令和6年版)",
    "002": "厚生労働省「地域生活定着促進事業」",
    "003": "厚生労働省の通知(重層的支援体制整備事業)",
    "004": "研修資料「刑事司法と障害福祉の連携について」",
}
SEED_LABELS = {  # the short form for the 出典 line
    "000": "法務省保護局の資料",
    "001": "再犯防止推進白書 令和6年版",
    "002": "厚生労働省の資料",
    "003": "厚生労働省の通知",
    "004": "厚生労働省の研修資料",
}
MAX_LABEL_CHARS = 24
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)


class EntryFormatError(ValueError):
    """An entry file cannot be parsed; the message names the file and the problem."""


@dataclass(frozen=True)
class Source:
    seed: str | None = None
    name: str | None = None
    url: str | None = None
    quote: str | None = None
    label: str | None = None  # short name for the 出典 line; name/url/quote are the full citation
    read: str | None = None  # the date the page at ``url`` was read (2026-12-02): a web page changes

    def short_label(self) -> str | None:
        """What users see in the 出典 line: the label, else a seed's short name, else the name."""
        if self.label:
            return self.label
        if self.seed:
            return SEED_LABELS.get(self.seed.split("_")[0], "公的な資料")
        if self.name:
            return self.name if len(self.name) <= MAX_LABEL_CHARS else self.name[:MAX_LABEL_CHARS - 1] + "…"
        return None


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    answer: str
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    as_of: str = ""
    version: int = 1
    needs_place: bool = False
    facets: dict[str, str] = field(default_factory=dict, compare=False)
    readings: dict[str, str] = field(default_factory=dict, compare=False)
    review: str | None = None  # "legal": the wording waits for a legal check
    path: Path | None = field(default=None, compare=False)

    def source_line(self) -> str:
        """The short 出典 line shown under an answer (「出典: 法務省 犯罪白書 令和6年版」).

        Why short: on a phone a two-line citation pushes the answer off the screen; the full
        citation and the date stay in the front matter and the editor.
        """
        labels: list[str] = []
        for s in self.sources:
            label = s.short_label()
            if label and label not in labels:
                labels.append(label)
        return "出典: " + "、".join(labels[:2]) if labels else ""


def render_answer(text: str, values: dict[str, str]) -> str:
    """Fills ``{office_hours}``-style placeholders; unknown or missing ones stay as written.

    Why not str.format: answers are free text written by editors; a stray brace must not
    raise in front of a user.
    """
    for key in PLACEHOLDERS:
        value = values.get(key)
        if value is not None:
            text = text.replace("{" + key + "}", str(value))
    return text


def parse_entry(text: str, path: Path | None = None) -> Entry:
    """Parse one entry file's text; raises :class:`EntryFormatError` with the reason."""
    where = str(path) if path else "<entry>"
    m = _FRONT.match(text.lstrip("\ufeff"))
    if not m:
        raise EntryFormatError(f"{where}: missing '---' YAML front matter")
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise EntryFormatError(f"{where}: YAML error: {exc}") from exc
    if not isinstance(meta, dict):
        raise EntryFormatError(f"{where}: front matter must be a mapping")
    for key in ("id", "title"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise EntryFormatError(f"{where}: '{key}' is required")
    sources = []
    for s in meta.get("sources") or []:
        if not isinstance(s, dict):
            raise EntryFormatError(f"{where}: each source must be a mapping")
        read = s.get("read")
        sources.append(Source(seed=s.get("seed"), name=s.get("name"), url=s.get("url"), quote=s.get("quote"), label=s.get("label"),
                              read=str(read) if read else None))

    def strs(key: str) -> tuple[str, ...]:
        value = meta.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EntryFormatError(f"{where}: '{key}' must be a list of strings")
        return tuple(value)

    def mapping(key: str) -> dict[str, str]:
        value = meta.get(key) or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise EntryFormatError(f"{where}: '{key}' must be a mapping of text to text")
        return {k.strip(): v.strip() for k, v in value.items()}

    review = meta.get("review")
    if review is not None and not isinstance(review, str):
        raise EntryFormatError(f"{where}: 'review' must be text (e.g. legal)")
    try:
        version = int(meta.get("version", 1))
    except (TypeError, ValueError) as exc:
        raise EntryFormatError(f"{where}: 'version' must be an integer") from exc
    return Entry(
        id=meta["id"].strip(),
        title=meta["title"].strip(),
        answer=m.group(2).strip(),
        questions=strs("questions"),
        keywords=strs("keywords"),
        related=strs("related"),
        sources=tuple(sources),
        as_of=str(meta.get("as_of") or ""),
        version=version,
        needs_place=bool(meta.get("needs_place", False)),
        facets=mapping("facets"),
        readings=mapping("readings"),
        review=review.strip() if review else None,
        path=path,
    )


def dump_entry(entry: Entry) -> str:
    """Serialise an entry back to its file format (used when an editor publishes)."""
    meta = {
        "id": entry.id,
        "title": entry.title,
        "questions": list(entry.questions),
        "keywords": list(entry.keywords),
        "related": list(entry.related),
        "sources": [{k: v for k, v in vars(s).items() if v} for s in entry.sources],
        "as_of": entry.as_of,
        "version": entry.version,
    }
    if entry.needs_place:
        meta["needs_place"] = True
    if entry.facets:
        meta["facets"] = dict(entry.facets)
    if entry.readings:
        meta["readings"] = dict(entry.readings)
    if entry.review:
        meta["review"] = entry.review
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{front}---\n{entry.answer.strip()}\n"


@dataclass
class KnowledgeBase:
    entries: dict[str, Entry]

    def get(self, entry_id: str) -> Entry | None:
        return self.entries.get(entry_id)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


def load_kb(directory: Path | None = None) -> KnowledgeBase:
    """Load every ``*.md`` entry in ``directory`` (default: the packaged entries)."""
    directory = directory or ENTRIES_DIR
    entries: dict[str, Entry] = {}
    for path in sorted(directory.glob("*.md")):
        if path.name.startswith(("_", ".")) or path.name.upper() == "README.MD":
            continue
        entry = parse_entry(path.read_text(encoding="utf-8"), path)
        entries[entry.id] = entry
    return KnowledgeBase(entries)
