"""Read the situation behind a message: who is in danger, when, and what cancels the alarm.

Why more than a phrase list: people in danger rarely write 「死にたい」. They write what happened
(「薬まとめて飲んでもうた」), where they are (「屋上、柵の外にいる」) or what someone is doing
(「母が父に殴られてます」), in dialect, hiragana or net slang. And the same words appear in
harmless messages: a drama scene, a past that is over, a 保護司 asking how to help, a law
question, rope bought for moving house. So the floor works in two steps, both written as data
in ``crisis_situations.yaml`` for reviewers:

1. **word groups** light up on the message: regular expressions over the normalised text (with
   and without spaces, so 「くすり　いっぱい　のんじゃった」 reads like one phrase), and verbs
   by their SudachiPy dictionary form (殴られとる, なぐられてる, 殴られよる → 殴る), optionally
   with their voice (passive: done to the writer or someone else) and aspect (going on now,
   done, wanted) read from the auxiliaries that follow the verb;
2. **situation rules** combine groups (``all`` of these, ``any`` of those) and name the contexts
   that cancel them (``unless``: fiction, prevention work, a past that is over ...). A context is
   a group too, may need another (a law word *and* a question), and may itself be cancelled (a past marker does not cancel when the message also
   says 「今」「さっき」).

Short kana-only messages are also read *loosely*: dakuten and small kana folded away on both the
text and the danger patterns (くすりいつぱいのんた reads as くすりいっぱいのんだ would). Contexts
that only cancel, and groups or patterns marked strict, are never read that way: folded, their
lookaheads and particles (で → て) would cancel or fire on words they were not written for.

Only rule ids and group names leave this module; never the user's text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import sudachipy
import yaml

from .normalize import _tokenizer, fold_kana  # the one cached SudachiPy tokenizer of the room

SITUATIONS_PATH = Path(__file__).with_name("crisis_situations.yaml")
TIERS = ("now", "possible")

# Auxiliaries read after a verb (normalised forms): voice and aspect come from these.
_PASSIVE = {"れる", "られる"}
_ONGOING = {"てる", "とる", "よる", "ちょる", "でる", "居る", "いる", "おる", "ておる", "よん", "とん"}
_PAST = {"た", "だ"}
_WISH = {"たい", "たがる"}
_TAIL_VERBS = {"居る", "いる", "おる", "仕舞う", "しまう", "ちゃう", "じゃう", "来る", "行く", "遣る", "やる", "くれる"}


@dataclass(frozen=True)
class VerbEvent:
    """One verb in the message, by dictionary form, with what its auxiliaries say."""

    lemma: str
    passive: bool
    ongoing: bool  # going on now (殴られてる, 殴られとる, 殴られよる), not 殴ってた
    done: bool  # past (殴られた)
    wish: bool  # wanted (切りたい)


@dataclass(frozen=True)
class Reading:
    """What the rules look at: the normalised text (with and without spaces) and its verbs."""

    norm: str
    flat: str
    verbs: tuple[VerbEvent, ...]
    question: bool = False  # the raw text had ? or ？ (normalising turns it into a space)
    loose: str | None = None  # the flat text without dakuten and small kana, for kana-only typing


def _tail_forms(morphemes: list[sudachipy.Morpheme], start: int) -> list[str]:
    forms: list[str] = []
    for m in morphemes[start:start + 6]:
        pos = m.part_of_speech()
        form = fold_kana(m.normalized_form())
        if pos[0] == "助動詞" or (pos[0] == "助詞" and form in ("て", "で", "ちゃ", "じゃ")) \
                or (pos[0] == "動詞" and pos[1] == "非自立可能" and form in _TAIL_VERBS):
            forms.append(form)
            continue
        break
    return forms


def read_verbs(norm: str) -> tuple[VerbEvent, ...]:
    """Each verb of ``norm`` by its dictionary form, with voice and aspect from its tail."""
    morphemes = list(_tokenizer().tokenize(norm, sudachipy.SplitMode.C))
    events = []
    for i, m in enumerate(morphemes):
        if m.part_of_speech()[0] != "動詞":
            continue
        tail = _tail_forms(morphemes, i + 1)
        ongoing_at = next((k for k, f in enumerate(tail) if f in _ONGOING), None)
        past_at = next((k for k, f in enumerate(tail) if f in _PAST), None)
        ongoing = ongoing_at is not None and (past_at is None or past_at < ongoing_at)
        for lemma in {fold_kana(m.normalized_form()), fold_kana(m.dictionary_form())}:
            events.append(VerbEvent(
                lemma=lemma,
                passive=bool(tail) and tail[0] in _PASSIVE,
                ongoing=ongoing,
                done=past_at is not None and not ongoing,
                wish=any(f in _WISH for f in tail),
            ))
    return tuple(events)


# Typing in kana with slips drops the dakuten and writes small kana large (くすりいつぱいのんた,
# かのじよか とじこもつた): in kana-only messages the patterns are also tried with both folded away.
_LOOSE = str.maketrans(
    "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽゔぁぃぅぇぉっゃゅょゎ",
    "かきくけこさしすせそたちつてとはひふへほはひふへほうあいうえおつやゆよわ",
)
_KANA = re.compile(r"[ぁ-ゖー]")
LOOSE_KANA_SHARE = 0.85  # at least this share of the characters is kana
LOOSE_MAX_CHARS = 40  # short messages only: a long kana line folded matches too much by chance


def loosen(text: str) -> str:
    """``text`` with dakuten and small kana folded away (が → か, っ → つ)."""
    return text.translate(_LOOSE)


def read(norm: str, *, question: bool = False) -> Reading:
    """The situation reading of an already normalised message."""
    flat = norm.replace(" ", "")
    kana_only = 4 <= len(flat) <= LOOSE_MAX_CHARS and len(_KANA.findall(flat)) >= LOOSE_KANA_SHARE * len(flat)
    return Reading(norm, flat, read_verbs(norm), question, loosen(flat) if kana_only else None)


# Patterns are tried on the text without spaces (so 「くすり　ぜんぶ　のんだ」 reads as one phrase);
# only a pattern that looks at spaces or word starts (\s, ^, a lookbehind) is also tried on the
# spaced text. Each pattern is compiled on its own: one big alternation is slower in Python's re.
_NEEDS_SPACES = re.compile(r"\\s|\^|\(\?<")


@dataclass(frozen=True)
class Patterns:
    """A list of regular expressions from the data files, compiled for the two views of a message."""

    flat: tuple[re.Pattern[str], ...] = ()
    spaced: tuple[re.Pattern[str], ...] = ()  # also tried on the spaced text
    loose: tuple[re.Pattern[str], ...] = ()  # folded (:func:`loosen`), tried on a kana-only message

    def hit(self, reading: Reading) -> bool:
        if any(p.search(reading.flat) for p in self.flat) or any(p.search(reading.flat) for p in self.spaced):
            return True
        if reading.loose is not None and any(p.search(reading.loose) for p in self.loose):
            return True
        return reading.flat != reading.norm and any(p.search(reading.norm) for p in self.spaced)

    def __bool__(self) -> bool:
        return bool(self.flat or self.spaced)


def compile_patterns(label: str, sources: Iterable[object] | None) -> Patterns:
    """Compile ``sources``; raises ValueError naming ``label`` on a bad or match-everything pattern."""
    flat: list[re.Pattern[str]] = []
    spaced: list[re.Pattern[str]] = []
    for source in sources or ():
        try:
            pattern = re.compile(str(source))
        except re.error as exc:
            raise ValueError(f"{label}: bad pattern {source!r}: {exc}") from exc
        if pattern.search(""):
            # An empty alternative (a stray "|") would light it on every message.
            raise ValueError(f"{label}: pattern {source!r} matches the empty string")
        (spaced if _NEEDS_SPACES.search(pattern.pattern) else flat).append(pattern)
    loose = tuple(re.compile(loosen(p.pattern)) for p in (*flat, *spaced) if not p.pattern.startswith("(?#strict)"))
    return Patterns(tuple(flat), tuple(spaced), loose)


@dataclass(frozen=True)
class Group:
    """A word group: lights up when a pattern matches or one of its verbs appears as asked."""

    name: str
    patterns: Patterns = Patterns()
    verbs: frozenset[str] = frozenset()
    voice: str | None = None  # "passive" / "active" / None (either)
    aspect: str | None = None  # "ongoing" / "done" / "wish" / None (any)
    unless: tuple[str, ...] = ()  # groups that switch this one off
    needs: tuple[str, ...] = ()  # groups that must light up too (a law word *and* a question)
    question_mark: bool = False  # also lights up when the raw text asks with ? / ？

    def _verb_hit(self, event: VerbEvent) -> bool:
        if event.lemma not in self.verbs:
            return False
        if self.voice == "passive" and not event.passive or self.voice == "active" and event.passive:
            return False
        return self.aspect is None or getattr(event, self.aspect)

    def raw_hit(self, reading: Reading) -> bool:
        if self.question_mark and reading.question:
            return True
        if self.patterns.hit(reading):
            return True
        return bool(self.verbs) and any(self._verb_hit(e) for e in reading.verbs)


@dataclass(frozen=True)
class Rule:
    """A situation: ``all`` groups and at least one of ``any`` light up, none of ``unless``."""

    id: str
    tier: str
    all: tuple[str, ...]
    any: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


class Lit:
    """Which groups light up on one reading, worked out only when a rule asks (and memoised).

    Why lazy: most messages fail the first group of every rule, so the costly context groups
    (past-over, prevention ...) are rarely needed; this keeps the floor well under a millisecond.
    """

    def __init__(self, model: SituationModel, reading: Reading) -> None:
        self._groups = model.groups
        self._reading = reading
        self._raw: dict[str, bool] = {}
        self._lit: dict[str, bool] = {}

    def _raw_hit(self, name: str) -> bool:
        if name not in self._raw:
            self._raw[name] = self._groups[name].raw_hit(self._reading)
        return self._raw[name]

    def __contains__(self, name: str) -> bool:
        if name not in self._lit:
            g = self._groups[name]
            self._lit[name] = self._raw_hit(name) and all(self._raw_hit(n) for n in g.needs) \
                and not any(self._raw_hit(u) for u in g.unless)
        return self._lit[name]


@dataclass
class SituationModel:
    groups: dict[str, Group]
    rules: tuple[Rule, ...]

    def lit(self, reading: Reading) -> Lit:
        """A lazy view of the groups that light up on ``reading`` (``name in lit``)."""
        return Lit(self, reading)

    def lit_groups(self, reading: Reading) -> set[str]:
        """Names of all the groups that light up, after their own ``needs`` and ``unless``."""
        lit = self.lit(reading)
        return {name for name in self.groups if name in lit}

    def match(self, reading: Reading, lit: Lit | set[str] | None = None, *,
              tier: str | None = None) -> Rule | None:
        """The first rule (of ``tier``, if given) whose situation the message describes, or None."""
        lit = self.lit(reading) if lit is None else lit
        for rule in self.rules:
            if tier is not None and rule.tier != tier:
                continue
            if all(g in lit for g in rule.all) and (not rule.any or any(g in lit for g in rule.any)) \
                    and not any(g in lit for g in rule.unless):
                return rule
        return None


def load_situations(path: Path | None = None) -> SituationModel:
    """Compile groups and rules; raises ValueError naming a bad pattern or an unknown group."""
    data = yaml.safe_load((path or SITUATIONS_PATH).read_text(encoding="utf-8")) or {}
    groups: dict[str, Group] = {}
    for name, spec in (data.get("groups") or {}).items():
        spec = spec or {}
        voice, aspect = spec.get("voice"), spec.get("aspect")
        if voice not in (None, "passive", "active") or aspect not in (None, "ongoing", "done", "wish"):
            raise ValueError(f"crisis situations: group {name!r}: bad voice or aspect")
        groups[name] = Group(
            name=name,
            patterns=compile_patterns(f"crisis situations: group {name!r}", spec.get("patterns")),
            verbs=frozenset(fold_kana(v) for v in spec.get("verbs") or ()),
            voice=voice, aspect=aspect,
            unless=tuple(spec.get("unless") or ()),
            needs=tuple(spec.get("needs") or ()),
            question_mark=bool(spec.get("question_mark")),
        )
    rules = []
    for spec in data.get("rules") or []:
        rule = Rule(id=spec["id"], tier=spec.get("tier", "now"), all=tuple(spec.get("all") or ()),
                    any=tuple(spec.get("any") or ()), unless=tuple(spec.get("unless") or ()))
        if rule.tier not in TIERS:
            raise ValueError(f"crisis situations: rule {rule.id!r}: tier must be one of {TIERS}")
        if not rule.all and not rule.any:
            raise ValueError(f"crisis situations: rule {rule.id!r}: needs 'all' or 'any'")
        rules.append(rule)
    named = {g for r in rules for g in (*r.all, *r.any, *r.unless)} | {u for g in groups.values() for u in (*g.unless, *g.needs)}
    # Why contexts stay strict: a folded 「いま」 or 「むかし」 pattern (or a folded lookahead) would
    # cancel or un-cancel more than it was written for; only danger words read loosely.
    contexts = {g for r in rules for g in r.unless} | {u for g in groups.values() for u in g.unless}
    contexts -= {g for r in rules for g in (*r.all, *r.any)}  # who and when (someone, now) read loosely too
    contexts |= {name for name, spec in (data.get("groups") or {}).items() if (spec or {}).get("strict")}
    for name in contexts & groups.keys():
        p = groups[name].patterns
        groups[name] = replace(groups[name], patterns=Patterns(p.flat, p.spaced))
    unknown = sorted(named - groups.keys())
    if unknown:
        raise ValueError(f"crisis situations: unknown group(s): {', '.join(unknown)}")
    return SituationModel(groups, tuple(rules))
