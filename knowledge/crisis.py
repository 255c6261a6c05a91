"""Deterministic crisis floor: a reviewed lexicon matched on normalised text.

Why a lexicon and not the matcher: a crisis must be recognised the same way every time, and
nothing downstream (intents, FAQ, an LLM) may override it. The lexicon lives in
``crisis_lexicon.yaml`` so that reviewers can read and extend it without touching code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .normalize import normalize

LEXICON_PATH = Path(__file__).with_name("crisis_lexicon.yaml")


@dataclass(frozen=True)
class CrisisResult:
    """``crisis_id`` names the lexicon item that matched; it never contains the user's text."""

    is_crisis: bool
    crisis_id: str | None = None


@dataclass(frozen=True)
class CrisisLexicon:
    exclude: re.Pattern[str] | None
    items: tuple[tuple[str, re.Pattern[str]], ...]

    def check(self, text: str, *, normalized: str | None = None) -> CrisisResult:
        """Return whether ``text`` signals danger now and which lexicon item matched."""
        norm = normalized if normalized is not None else normalize(text)
        if not norm:
            return CrisisResult(False)
        if self.exclude is not None:
            # Blank set phrases with a character no pattern uses, keeping the rest intact.
            norm = self.exclude.sub("■", norm)
        for item_id, pattern in self.items:
            if pattern.search(norm):
                return CrisisResult(True, item_id)
        return CrisisResult(False)


def load_lexicon(path: Path | None = None) -> CrisisLexicon:
    """Compile the lexicon; raises ValueError naming the item whose pattern is invalid."""
    data = yaml.safe_load((path or LEXICON_PATH).read_text(encoding="utf-8")) or {}
    excludes = [str(p) for p in data.get("exclude") or []]
    try:
        exclude = re.compile("|".join(f"(?:{p})" for p in excludes)) if excludes else None
    except re.error as exc:
        raise ValueError(f"crisis lexicon: bad exclude pattern: {exc}") from exc
    items = []
    for item in data.get("items") or []:
        item_id = item["id"]
        try:
            pattern = re.compile("|".join(f"(?:{p})" for p in item["patterns"]))
        except re.error as exc:
            raise ValueError(f"crisis lexicon item {item_id!r}: bad pattern: {exc}") from exc
        items.append((item_id, pattern))
    return CrisisLexicon(exclude, tuple(items))


@lru_cache(maxsize=1)
def default_lexicon() -> CrisisLexicon:
    return load_lexicon()


def detect_crisis(text: str, *, normalized: str | None = None) -> CrisisResult:
    """Check ``text`` against the packaged lexicon."""
    return default_lexicon().check(text, normalized=normalized)
