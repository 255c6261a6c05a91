"""Deterministic crisis floor: reviewed phrases and situation rules over normalised text.

Why rules and not the matcher: a crisis must be recognised the same way every time, and
nothing downstream (intents, FAQ, an LLM) may override it. Two data files hold what reviewers
read and extend without touching code:

- ``crisis_lexicon.yaml`` — phrases that say danger on their own (死にたい, 首を吊る, OD,
  殺される), and set phrases blanked out first (死ぬほど疲れた);
- ``crisis_situations.yaml`` — word groups and the situations they make together (medicine +
  a quantity + taking it; a high place + jumping; a violence verb in the passive + now), and
  the contexts that cancel a phrase or a situation (fiction, prevention work, a past that is
  over, a question about the law, everyday use of a word that can also be a means).

The result carries a tier: ``now`` (danger now) or ``possible`` (both get the safety reply; the
engine may ask one yes/no check question after a ``possible``). Ids of phrases and rules are
what gets logged: never the user's text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .crisis_situation import TIERS, Lit, Patterns, SituationModel, compile_patterns, load_situations, read
from .normalize import normalize

LEXICON_PATH = Path(__file__).with_name("crisis_lexicon.yaml")


@dataclass(frozen=True)
class CrisisResult:
    """``crisis_id`` names the phrase item or situation rule that matched; never the user's text.

    ``tier`` is ``"now"`` or ``"possible"`` when ``is_crisis``, else None.
    """

    is_crisis: bool
    crisis_id: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class PhraseItem:
    id: str
    patterns: Patterns
    tier: str
    unless: tuple[str, ...]  # situation groups (contexts) that cancel this phrase


# Context groups of crisis_situations.yaml that cancel an alarm when they light up.
CANCELLING_CONTEXTS = (
    "past-over", "fiction", "grief", "game-sport", "prevention", "coping", "denied", "law-question",
    "hypothetical", "everyday-use", "medicine-routine", "tool-use", "idiom", "work-task", "animal",
    "cared-for", "online", "mourning", "witnessed", "figurative", "venting", "safe-now", "would-have",
    "relapse-fear", "near-miss", "rough-sleeping",
)


@dataclass(frozen=True)
class CrisisLexicon:
    exclude: re.Pattern[str] | None
    items: tuple[PhraseItem, ...]
    situations: SituationModel | None = None
    emoji: tuple[tuple[str, str], ...] = ()  # (emoji, word) pairs: 🔪 → 包丁

    def _with_emoji(self, text: str, norm: str) -> str:
        """Append the word an emoji stands for: normalising drops emoji, yet 「🔪持った」 or
        「💊💊ぜんぶのんだ」 say the means with it."""
        words = [word for mark, word in self.emoji if mark in text]
        return f"{norm} {' '.join(words)}" if words else norm

    def check(self, text: str, *, normalized: str | None = None) -> CrisisResult:
        """Return whether ``text`` signals danger, which phrase or rule matched, and its tier."""
        norm = normalized if normalized is not None else normalize(text)
        norm = self._with_emoji(text, norm).strip()
        if not norm:
            return CrisisResult(False)
        if self.exclude is not None:
            # Blank set phrases with a character no pattern uses, keeping the rest intact.
            norm = self.exclude.sub("■", norm)
        reading = read(norm, question="?" in text or "？" in text)
        lit: Lit | set[str] = self.situations.lit(reading) if self.situations is not None else set()
        # Why keep looking after a "possible" match: 「消えたい、薬全部飲んだ」 is danger now, and
        # the tier decides whether the engine may ask a check question.
        possible: CrisisResult | None = None
        for item in self.items:
            if item.patterns.hit(reading) and not any(u in lit for u in item.unless):
                if item.tier == "now":
                    return CrisisResult(True, item.id, item.tier)
                possible = possible or CrisisResult(True, item.id, item.tier)
        if self.situations is not None:
            rule = self.situations.match(reading, lit, tier="now")
            if rule is not None:
                return CrisisResult(True, rule.id, rule.tier)
            if possible is None:
                rule = self.situations.match(reading, lit)
                if rule is not None:
                    return CrisisResult(True, rule.id, rule.tier)
        return possible or CrisisResult(False)

    def cancelled(self, text: str, *, normalized: str | None = None) -> bool:
        """True when the message carries a context that cancels an alarm (fiction, a past that
        is over, prevention work, online, everyday use ...): the learned danger signal, which
        only adds to these rules, must respect the same contexts."""
        if self.situations is None:
            return False
        norm = normalized if normalized is not None else normalize(text)
        norm = self._with_emoji(text, norm).strip()
        if not norm:
            return False
        lit = self.situations.lit(read(norm, question="?" in text or "？" in text))
        return any(name in lit for name in CANCELLING_CONTEXTS if name in self.situations.groups)

    def tier_of(self, crisis_id: str | None) -> str | None:
        """The tier of a phrase item or rule id (each id has one tier), e.g. for the engine."""
        for item in self.items:
            if item.id == crisis_id:
                return item.tier
        if self.situations is not None:
            for rule in self.situations.rules:
                if rule.id == crisis_id:
                    return rule.tier
        return None


def load_lexicon(path: Path | None = None, situations_path: Path | None = None) -> CrisisLexicon:
    """Compile phrases and situations; raises ValueError naming the item whose pattern is invalid."""
    data = yaml.safe_load((path or LEXICON_PATH).read_text(encoding="utf-8")) or {}
    excludes = [str(p) for p in data.get("exclude") or []]
    try:
        exclude = re.compile("|".join(f"(?:{p})" for p in excludes)) if excludes else None
    except re.error as exc:
        raise ValueError(f"crisis lexicon: bad exclude pattern: {exc}") from exc
    default_unless = tuple(data.get("unless") or ())
    items = []
    for item in data.get("items") or []:
        item_id = item["id"]
        patterns = compile_patterns(f"crisis lexicon item {item_id!r}", item["patterns"])
        tier = item.get("tier", "now")
        if tier not in TIERS:
            raise ValueError(f"crisis lexicon item {item_id!r}: tier must be one of {TIERS}")
        unless = tuple(item["unless"]) if "unless" in item else default_unless
        items.append(PhraseItem(item_id, patterns, tier, unless))
    situations = load_situations(situations_path)
    unknown = sorted({u for i in items for u in i.unless} - situations.groups.keys())
    if unknown:
        raise ValueError(f"crisis lexicon: unknown context group(s): {', '.join(unknown)}")
    # Why one tier per id: the id is all that is logged and passed on, so it must say the tier.
    tiers: dict[str, str] = {}
    for crisis_id, tier in [(i.id, i.tier) for i in items] + [(r.id, r.tier) for r in situations.rules]:
        if tiers.setdefault(crisis_id, tier) != tier:
            raise ValueError(f"crisis lexicon: id {crisis_id!r} has two tiers")
    emoji = tuple((str(mark), str(word)) for mark, word in (data.get("emoji") or {}).items())
    return CrisisLexicon(exclude, tuple(items), situations, emoji)


@lru_cache(maxsize=1)
def default_lexicon() -> CrisisLexicon:
    return load_lexicon()


def detect_crisis(text: str, *, normalized: str | None = None) -> CrisisResult:
    """Check ``text`` against the packaged phrases and situations."""
    return default_lexicon().check(text, normalized=normalized)


def crisis_tier(crisis_id: str | None) -> str | None:
    """``"now"`` or ``"possible"`` for a crisis id from the packaged floor (None if unknown)."""
    return default_lexicon().tier_of(crisis_id)
