"""The lexical matcher: how well each entry's own words explain a message.

Four signals, all precomputed per entry at construction:

- *query coverage*: how much of the message's content (IDF-weighted SudachiPy tokens, expanded
  with ``synonyms.yaml`` groups) the entry explains; unknown words weigh heavily, so a message
  about something else (保護猫, 採用試験) loses confidence;
- *question coverage*: how much of the best-matching title / question / keyword is present;
- *reading overlap*: IDF-weighted kana-bigram containment of the best doc in the message's
  reading, which catches kana-typed and half-width words (ほごかんさつしょ, ｺｳｾｲﾎｺﾞｼｾﾂ);
- *rapidfuzz* ``partial_ratio`` of the best doc's normalised text against the message.

Why it is kept beside the learned model (:mod:`knowledge.topic_model`): it reads the live
entries' own words, including a question an editor added a minute ago, and it is one more
independent vote when the model is unsure.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from .kb import Entry, KnowledgeBase
from .normalize import Analysis, analyze, normalize

SYNONYMS_PATH = Path(__file__).with_name("synonyms.yaml")

THRESHOLD = 0.36  # below this the lexical matcher alone would abstain
EVIDENCE_MASS = 9.0  # IDF mass of shared words (≈ three words found in only one or two entries)
EVIDENCE_COVER = 0.35  # ...of which at least this share of the message must be explained

# Weights of the signals (sum to 1, so the score stays in 0..1).
W_QUERY_COVER = 0.40
W_DOC_COVER = 0.25
W_READING = 0.20
W_FUZZ = 0.15

STRONG, WEAK = 1.0, 0.5
OOV_POS_FACTOR = {"名詞": 1.0, "固有名詞": 1.0, "形状詞": 0.6, "動詞": 0.35, "形容詞": 0.35,
                  "接尾辞": 0.2, "接頭辞": 0.2, "数詞": 0.0}  # title/questions/keywords vs answer text


# --- synonyms ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Synonyms:
    """Token sequences → group names (``syn:<group>``)."""

    by_first: dict[str, list[tuple[tuple[str, ...], str]]]
    keep: frozenset[str]
    protect: re.Pattern[str] | None = None

    def analyze(self, text: str) -> Analysis:
        return analyze(text, keep=self.keep, protect=self.protect)

    @classmethod
    def load(cls, path: Path | None = None) -> Synonyms:
        data = yaml.safe_load((path or SYNONYMS_PATH).read_text(encoding="utf-8")) or {}
        by_first: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        keep: set[str] = set()
        members: list[tuple[str, str]] = []
        for group, words in (data.get("groups") or {}).items():
            for word in words:
                members.append((str(group), str(word)))
                norm = normalize(str(word)).replace(" ", "")
                if norm:
                    keep.add(norm)
        keep_f = frozenset(keep)
        kana_terms = sorted((w for w in keep_f if len(w) >= 3 and _KANA_ONLY.fullmatch(w)), key=len, reverse=True)
        protect = re.compile("|".join(map(re.escape, kana_terms))) if kana_terms else None
        for group, word in members:
            a = analyze(word, keep=keep_f, protect=protect)
            seqs = {a.tokens, a.surfaces}
            for seq in seqs:
                if seq:
                    by_first[seq[0]].append((seq, f"syn:{group}"))
        for found in by_first.values():
            found.sort(key=lambda s: -len(s[0]))
        return cls(dict(by_first), keep_f, protect)

    def units(self, tokens: tuple[str, ...], surfaces: tuple[str, ...]) -> list[set[str]]:
        """One set of alternative forms per token: the token plus any synonym groups it is in."""
        units = [{t} for t in tokens]
        for seq_src in (tokens, surfaces):
            n = len(seq_src)
            for i, tok in enumerate(seq_src):
                for seq, group in self.by_first.get(tok, ()):
                    if tuple(seq_src[i:i + len(seq)]) == seq:
                        for j in range(i, i + len(seq)):
                            units[j].add(group)
                        break
            if n != len(units):  # defensive: surfaces always parallel tokens
                break
        return units


# --- index -------------------------------------------------------------------------------

_TITLE_TAIL = re.compile(r"(とは|って何|ってなに)$")
_KANA_ONLY = re.compile(r"[\u3041-\u3096ー]+")
_KANA_RUN = re.compile(r"[\u3041-\u3096ー]{4,}")


def _bigrams(reading: str) -> set[str]:
    grams: set[str] = set()
    for chunk in reading.split():
        if len(chunk) == 1:
            grams.add(chunk)
        grams.update(chunk[i:i + 2] for i in range(len(chunk) - 1))
    return grams


@dataclass
class _Doc:
    entry: int
    strength: float
    norm: str
    units: list[set[str]]
    grams: set[str]
    compounds: tuple[str, ...] = ()
    unit_mass: float = 0.0
    gram_mass: float = 0.0
    unit_weights: tuple[float, ...] = ()  # ``_unit_weight`` of each unit, precomputed


class LexicalMatcher:
    """Scores entries against a message by shared words and readings; construct anew to rebuild."""

    def __init__(self, kb: KnowledgeBase, *, synonyms: Synonyms | None = None) -> None:
        self.kb = kb
        self.synonyms = synonyms or default_synonyms()
        self.ids: list[str] = []
        self.docs: list[_Doc] = []
        entry_forms: list[dict[str, float]] = []  # form -> best field strength, per entry
        gram_df: dict[str, int] = defaultdict(int)
        for idx, entry in enumerate(kb):
            self.ids.append(entry.id)
            forms, grams_entry = self._index_entry(idx, entry)
            entry_forms.append(forms)
            for g in grams_entry:
                gram_df[g] += 1
        n = max(len(self.ids), 1)
        df: dict[str, int] = defaultdict(int)
        for forms in entry_forms:
            for form in forms:
                df[form] += 1
        self.idf = {f: math.log(1 + n / d) for f, d in df.items()}
        self.oov_idf = math.log(1 + n / 0.5)
        self.gram_idf = {g: math.log(1 + n / d) for g, d in gram_df.items()}
        self.oov_gram_idf = math.log(1 + n / 0.5)
        self.entry_forms = entry_forms
        self._build_postings(entry_forms)
        self._build_vocab_readings()
        self.docs_by_entry: list[list[int]] = [[] for _ in self.ids]
        for d, doc in enumerate(self.docs):
            self.docs_by_entry[doc.entry].append(d)

    def _add_forms(self, forms: dict[str, float], text: str, strength: float, *, weak: bool = False) -> None:
        """Record the forms (and known compounds) of ``text``: keywords set them strong; answer
        paragraphs only add forms not seen yet, weakly."""
        a = self.synonyms.analyze(text)
        keys = [form for unit in self.synonyms.units(a.tokens, a.surfaces) for form in unit]
        keys += ["cmp:" + comp for comp in a.compounds]
        for key in keys:
            if weak:
                forms.setdefault(key, strength)
            else:
                forms[key] = strength

    def _index_entry(self, idx: int, entry: Entry) -> tuple[dict[str, float], set[str]]:
        """One entry's forms (form -> strength) and reading bigrams; its docs join ``self.docs``."""
        forms: dict[str, float] = {}
        fields = [(_TITLE_TAIL.sub("", entry.title), STRONG)]
        fields += [(q, STRONG) for q in entry.questions]
        # Keywords widen the vocabulary (strongly) but are not docs: a one-word "doc" would
        # be fully covered by any message that happens to contain that word.
        for k in entry.keywords:
            self._add_forms(forms, k, STRONG)
        grams_entry: set[str] = set()
        for text, strength in fields:
            doc = self._make_doc(idx, text, strength)
            if doc is None:
                continue
            self.docs.append(doc)
            for unit in doc.units:
                for form in unit:
                    forms[form] = max(forms.get(form, 0.0), strength)
            for comp in doc.compounds:
                forms["cmp:" + comp] = max(forms.get("cmp:" + comp, 0.0), strength)
            grams_entry |= doc.grams
        # The answer widens the vocabulary (weakly) but is never a doc to match against.
        for para in entry.answer.split("\n"):
            self._add_forms(forms, para, WEAK, weak=True)
        return forms, grams_entry

    def _build_postings(self, entry_forms: list[dict[str, float]]) -> None:
        """Inverted indexes: form -> [(entry, strength)], bigram -> [doc], form -> [(doc, unit)]."""
        self.form_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for e, forms in enumerate(entry_forms):
            for form, strength in forms.items():
                self.form_postings[form].append((e, strength))
        self.gram_postings: dict[str, list[int]] = defaultdict(list)
        # form -> [(doc, unit index)]: which doc units a message's forms hit, without scanning docs
        self.unit_postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for d, doc in enumerate(self.docs):
            doc.unit_weights = tuple(self._unit_weight(u) for u in doc.units)
            doc.unit_mass = sum(doc.unit_weights) or 1.0
            for i, unit in enumerate(doc.units):
                for form in unit:
                    self.unit_postings[form].append((d, i))
            doc.gram_mass = sum(self.gram_idf.get(g, 0.0) for g in doc.grams) or 1.0
            for g in doc.grams:
                self.gram_postings[g].append(d)

    def _build_vocab_readings(self) -> None:
        """Kana-typed words (こうきんけい, ｺｳｾｲﾎｺﾞｼｾﾂ): readings of the vocabulary, for recovery."""
        self.vocab_reading: dict[str, str] = {}
        for form in self.idf:
            if form.startswith("syn:") or _KANA_ONLY.fullmatch(form):
                continue
            r = analyze(form).reading.replace(" ", "")
            if len(r) >= 2 and _KANA_ONLY.fullmatch(r):
                self.vocab_reading.setdefault(r, form)
        self.max_reading = max((len(r) for r in self.vocab_reading), default=0)

    def _make_doc(self, entry: int, text: str, strength: float) -> _Doc | None:
        a = self.synonyms.analyze(text)
        if not a.norm:
            return None
        units = self.synonyms.units(a.tokens, a.surfaces)
        return _Doc(entry, strength, a.norm.replace(" ", ""), units, _bigrams(a.reading), a.compounds)

    def _query_units(self, a: Analysis) -> tuple[list[set[str]], list[str]]:
        """Units of a message, with kana-typed vocabulary words recovered from their reading."""
        units = self.synonyms.units(a.tokens, a.surfaces)
        if not self.vocab_reading:
            return units, list(a.pos)
        pairs = list(zip(units, a.surfaces, a.pos, strict=False))
        for run in _KANA_RUN.findall(a.norm):
            found, covered, i = [], 0, 0
            while i < len(run):
                for n in range(min(self.max_reading, len(run) - i), 1, -1):
                    form = self.vocab_reading.get(run[i:i + n])
                    if form is not None:
                        found.append(form)
                        covered += n
                        i += n
                        break
                else:
                    i += 1
            if not found or covered < 0.5 * len(run):
                continue
            # Drop the tokenizer's unknown fragments of this run; add the recovered words.
            pairs = [(u, surf, pos) for u, surf, pos in pairs
                     if not (surf and surf in run and not any(f in self.idf for f in u))]
            present = set().union(*(u for u, _, _ in pairs)) if pairs else set()
            extra = self.synonyms.units(tuple(found), tuple(found))
            pairs += [(u, "", "名詞") for u in extra if not u & present]
        return [u for u, _, _ in pairs], [p for _, _, p in pairs]

    def _unit_weight(self, unit: set[str], pos: str = "名詞") -> float:
        known = [self.idf[f] for f in unit if f in self.idf]
        if known:
            return max(known)
        # Unknown words: a noun names a thing the knowledge base does not cover (保護猫, 慰謝料)
        # and weighs like the rarest word; verbs, adjectives and affixes are mostly the
        # storytelling around a question; numbers say nothing about the topic.
        return self.oov_idf * OOV_POS_FACTOR.get(pos, 0.4)

    def _query_cover(self, units: list[set[str]], weights: list[float]) -> dict[int, float]:
        """Entry → Σ over the message's units of weight × the best strength of its forms there."""
        q_cover: dict[int, float] = defaultdict(float)
        for unit, w in zip(units, weights, strict=False):
            best: dict[int, float] = {}
            for form in unit:
                for e, strength in self.form_postings.get(form, ()):
                    if strength > best.get(e, 0.0):
                        best[e] = strength
            for e, strength in best.items():
                q_cover[e] += w * strength
        return q_cover

    def _gram_hits(self, q_grams: set[str]) -> dict[int, float]:
        """Doc → IDF mass of the message's reading bigrams it contains."""
        doc_gram_hit: dict[int, float] = defaultdict(float)
        for g in q_grams:
            idf = self.gram_idf.get(g)
            if idf is None:
                continue
            for d in self.gram_postings[g]:
                doc_gram_hit[d] += idf
        return doc_gram_hit

    def _best_doc_cover(self, units: list[set[str]], q_mass: float) -> dict[int, tuple[float, _Doc]]:
        """Per entry, its best doc by doc cover (the first doc wins a tie).

        Only docs that share a unit with the message can score above 0, so only those are
        visited (same values, same tie-break as a scan over every doc). Symmetric overlap: a
        short question fully inside a long off-topic message must not count as a full match,
        nor a long question hit by one word.
        """
        all_forms = set().union(*units) if units else set()
        unit_hits: dict[int, set[int]] = defaultdict(set)
        for form in all_forms:
            for d, i in self.unit_postings.get(form, ()):
                unit_hits[d].add(i)
        best_dc: dict[int, tuple[float, _Doc]] = {}
        for d in sorted(unit_hits):
            doc = self.docs[d]
            weights = doc.unit_weights
            hit = sum([weights[i] for i in sorted(unit_hits[d])])  # unit order, as a full scan adds
            dc_d = hit / max(doc.unit_mass, q_mass)
            got = best_dc.get(doc.entry)
            if dc_d > (got[0] if got is not None else 0.0):
                best_dc[doc.entry] = (dc_d, doc)
        return best_dc

    def rank(self, text: str, analysis: Analysis | None = None) -> list[tuple[str, float]]:
        """Entries ordered by score (0..1), best first; only entries sharing something."""
        return [(self.ids[e], s) for e, s, _ in self.explain(text, analysis)]

    def explain(self, text: str, analysis: Analysis | None = None) -> list[tuple[int, float, tuple[float, float, float, float]]]:
        """Ranked ``(entry index, score, (query cover, doc cover, reading, fuzz))``.

        ``analysis``: this matcher's own ``synonyms.analyze(text)``, when the caller has it already.
        """
        a = analysis if analysis is not None else self.synonyms.analyze(text)
        if not a.norm:
            return []
        units, poses = self._query_units(a)
        weights = [self._unit_weight(u, p) for u, p in zip(units, poses, strict=False)]
        # Compounds (保護観察所 vs 保護観察) tell close topics apart; they count only when the
        # knowledge base knows them, so a new compound (保護猫) is judged by its parts alone.
        for comp in a.compounds:
            key = "cmp:" + comp
            if key in self.idf:
                units.append({key})
                weights.append(self.idf[key])
        q_mass = sum(weights)
        q_cover = self._query_cover(units, weights)
        q_grams = _bigrams(a.reading)
        doc_gram_hit = self._gram_hits(q_grams)
        candidates = set(q_cover) | {self.docs[d].entry for d in doc_gram_hit}
        if not candidates:
            return []
        qnorm = a.norm.replace(" ", "")
        best_dc = self._best_doc_cover(units, q_mass)
        q_gram_mass = sum(self.gram_idf.get(g, self.oov_gram_idf) for g in q_grams) or 1.0
        best_rd: dict[int, float] = {}
        for d, g_hit in doc_gram_hit.items():
            doc = self.docs[d]
            r = g_hit / max(doc.gram_mass, q_gram_mass)
            if r > best_rd.get(doc.entry, 0.0):
                best_rd[doc.entry] = r
        out = []
        for e in candidates:
            qc = q_cover.get(e, 0.0) / q_mass if q_mass else 0.0
            fz = 0.0
            dc, best_doc = best_dc.get(e, (0.0, None))
            rd = best_rd.get(e, 0.0)
            if best_doc is not None:
                fz = fuzz.ratio(best_doc.norm, qnorm) / 100.0
            score = W_QUERY_COVER * qc + W_DOC_COVER * dc + W_READING * rd + W_FUZZ * fz
            # Long messages (a story around the question) explain a small share of their words
            # yet share several specific terms with the entry: that evidence counts too.
            evidence = THRESHOLD * min(q_cover.get(e, 0.0) / EVIDENCE_MASS, 1.0) * min(qc / EVIDENCE_COVER, 1.0)
            out.append((e, min(max(score, evidence), 1.0), (qc, dc, rd, fz)))
        out.sort(key=lambda x: -x[1])
        return out


_SYN_CACHE: list[Synonyms] = []


def default_synonyms() -> Synonyms:
    if not _SYN_CACHE:
        _SYN_CACHE.append(Synonyms.load())
    return _SYN_CACHE[0]


def analyze_message(text: str) -> Analysis:
    """The one SudachiPy pass a message gets: the lexical matcher's view (synonym words kept,
    kana terms such as りすたぽ protected), which the learned models' features use too.

    Why one pass: tokenising each message once for the matcher and again for the models was
    the largest avoidable cost of classify on long messages.
    """
    return default_synonyms().analyze(text)
