"""The learned classifier: its corpus, its caches, facets and the question back when unsure.

Sentences here are written for these tests; none is taken from an evaluation set.
"""
from __future__ import annotations

import pytest

from knowledge import model_cache, topic_model
from knowledge.corpus import INTENT_PREFIX, NONE, Example, load_corpus
from knowledge.facets import FACETS, detect_facet
from knowledge.kb import load_kb
from knowledge.normalize import normalize
from knowledge.understand import Understander, training_examples

MIN_LINES_PER_LABEL = 40


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def understander(kb):
    return Understander(kb)


def test_every_published_entry_and_intent_has_a_corpus(kb):
    counts: dict[str, int] = {}
    for ex in load_corpus():
        counts[ex.label] = counts.get(ex.label, 0) + 1
    thin = {e.id: counts.get(e.id, 0) for e in kb if counts.get(e.id, 0) < MIN_LINES_PER_LABEL}
    assert thin == {}
    for intent in ("handoff", "delete_data", "greeting", "thanks", "menu"):
        assert counts.get(INTENT_PREFIX + intent, 0) >= MIN_LINES_PER_LABEL
    assert counts.get(NONE, 0) >= 200


def test_corpus_has_no_line_under_two_labels():
    seen: dict[str, str] = {}
    clashes = []
    for ex in load_corpus():
        key = normalize(ex.text).replace(" ", "")
        if key in seen and seen[key] != ex.label:
            clashes.append((ex.text, seen[key], ex.label))
        seen.setdefault(key, ex.label)
    assert clashes == []


def test_training_lines_of_unpublished_entries_are_left_out(kb):
    corpus = [Example("まぼろしの制度について", "no-such-entry"), Example("やっほー", "intent:greeting")]
    labels = {ex.label for ex in training_examples(kb, corpus)}
    assert "no-such-entry" not in labels
    assert "intent:greeting" in labels
    # every published entry is taught at least by its own title and questions
    assert {e.id for e in kb} <= labels


def test_an_editors_new_question_teaches_the_model(kb):
    entry = kb.get("soudan-muryo")
    assert entry is not None
    examples = training_examples(kb, [])
    assert any(ex.label == "soudan-muryo" and ex.text == entry.questions[0] for ex in examples)


@pytest.mark.parametrize("text,topic", [
    ("母です。息子が来週出てくるのですが、うちには置けません。どこか住める所はありますか", "sumai-ga-nai"),
    ("ｼｬﾌﾞやめたいけどひとりじゃむり", "yakubutsu-izon"),
    ("仕事さがしよるんやけど前科あるけん面接で落とされる", "shuro-shien"),
    ("せいかつほごって　うけられるんかな　おかねぜんぜんない", "seikatsu-konkyu"),
])
def test_situations_and_third_parties_reach_the_helping_entry(understander, text, topic):
    u = understander.classify(text)
    assert (u.intent, u.topic) == ("faq", topic)


@pytest.mark.parametrize("text", [
    "明日のプロ野球の試合は何時から？",
    "カレーの作り方おしえて",
])
def test_everyday_questions_abstain(understander, text):
    assert understander.classify(text).intent == "none"


def test_a_courtesy_with_a_real_question_is_the_question(understander):
    u = understander.classify("ありがとう。ところで自立準備ホームって誰が入れるの？")
    assert u.intent == "faq" and u.topic == "jiritsu-junbi-home"
    assert u.facet == "who"


@pytest.mark.parametrize("text,facet", [
    ("保護観察っていつまで続くの", "period"),
    ("前科があっても生活保護って受けられる？", "record"),
    ("更生保護施設ってお金かかる？", "cost"),
    ("自立準備ホームって誰が入れるん", "who"),
    ("保護観察所ってどこにあるの", "where"),
    ("更生緊急保護の申し込みはどうやってするの", "how"),
    ("更生保護施設ってなに", None),
])
def test_facet_detection(text, facet):
    assert detect_facet(normalize(text)) == facet
    assert facet is None or facet in FACETS


def test_question_back_when_two_topics_are_nearly_tied():
    tied = Understander._faq([("kousei-hogo-shisetsu", 0.45), ("jiritsu-junbi-home", 0.41), ("sumai-ga-nai", 0.1)], "")
    assert tied.topic == "kousei-hogo-shisetsu"
    assert tied.clarify == ["kousei-hogo-shisetsu", "jiritsu-junbi-home"]
    clear = Understander._faq([("kousei-hogo-shisetsu", 0.8), ("jiritsu-junbi-home", 0.3)], "")
    assert clear.clarify == []


def test_a_trained_model_is_reused_from_disk(tmp_path, kb, monkeypatch):
    examples = training_examples(kb)[:300]
    first = topic_model.TopicModel.train(examples, cache_dir=tmp_path)
    assert list(tmp_path.glob("topic-model-*.pickle"))
    topic_model._CACHE.clear()

    def no_training(*_a, **_k):  # a second start must not train again
        raise AssertionError("trained again")

    monkeypatch.setattr(topic_model.LinearSVC, "fit", no_training)
    again = topic_model.TopicModel.train(examples, cache_dir=tmp_path)
    assert again.labels == first.labels
    assert again.rank("すむところがない")[0][0] == first.rank("すむところがない")[0][0]


def test_a_broken_cache_file_is_retrained(tmp_path, kb):
    examples = training_examples(kb)[:200]
    key = topic_model.fingerprint(examples)
    topic_model._CACHE.clear()
    model_cache.path_for(tmp_path, "topic-model", key).write_bytes(b"not a pickle")
    model = topic_model.TopicModel.train(examples, cache_dir=tmp_path)
    assert model.rank("こんにちは")


def test_the_learned_danger_signal_only_adds_to_the_rules(understander):
    from knowledge.crisis import default_lexicon

    # a rule hit stays a crisis whatever the model says
    assert understander.classify("死にたい").intent == "crisis"
    # a model-only flag is a crisis of the "possible" tier, logged by id, never by text
    model = understander.danger
    assert model is not None
    text = "もう全部おわりにしたくて、ためてた薬を今夜ぜんぶ飲むつもり"
    if not default_lexicon().check(text).is_crisis and model.flags(text):
        u = understander.classify(text)
        assert (u.intent, u.crisis_tier, u.crisis_id) == ("crisis", "possible", "learned")
    assert understander.classify("更生保護施設ってどんなところ").intent != "crisis"


def test_danger_lines_must_say_whether_they_are_danger(tmp_path):
    from knowledge.danger_model import load_danger_lines

    bad = tmp_path / "danger.jsonl"
    bad.write_text('{"text": "x", "danger": "yes"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        load_danger_lines(bad)


def test_fast_inference_gives_sklearns_numbers(understander):
    import numpy as np

    from knowledge.lexical import analyze_message as analyze  # the analysis the models are fed
    from knowledge.topic_model import features

    for text in ("すむところがない", "ｼｬﾌﾞやめたい", "人と話したい", "", "zzz"):
        f = features(analyze(text))
        m = understander.model
        expected = m.svm.decision_function(m.vectorizer.transform([f]))[0]
        assert np.allclose(m.fast.decision(f), expected)
        d = understander.danger
        expected_p = d.classifier.predict_proba(d.vectorizer.transform([f]))[0][1]
        assert abs(d.probability(text) - expected_p) < 1e-9 or not analyze(text).norm



@pytest.mark.parametrize("text", [
    "今夜は公園で寝るしかない",
    "ねるとこない。いま駅のベンチ",
    "きょうどこでねればいいかわからん",
])
def test_nowhere_to_sleep_tonight_is_housing_not_a_crisis(understander, text):
    # the labelling policy: nowhere to sleep tonight is 住む場所, and the learned signal must not
    # turn it into an alarm (its rough-sleeping context cancels it)
    from knowledge.crisis import default_lexicon

    assert default_lexicon().cancelled(text)
    assert understander.classify(text).intent != "crisis"


def test_nowhere_to_sleep_with_an_end_in_mind_stays_a_crisis(understander):
    assert understander.classify("寝るとこないし、もう死にたい").intent == "crisis"


@pytest.mark.parametrize("text", ["もう帰ります", "今から仕事行きます", "もういい、わかった", "さよなら、また明日"])
def test_everyday_short_chat_is_not_a_crisis(understander, text):
    assert understander.classify(text).intent != "crisis"


def test_a_short_message_needs_more_from_the_learned_signal():
    from knowledge.danger_model import SHORT_THRESHOLD, THRESHOLD, threshold_for

    assert threshold_for("もう かえります") == SHORT_THRESHOLD > THRESHOLD
    assert threshold_for("きのうから ずっと 考えてて もう全部 おわりにしたいと おもってる") == THRESHOLD
