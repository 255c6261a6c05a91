"""The crisis floor reads the situation: what happened, where, to whom, when, and in what frame.

Sentences here are written for these tests (not taken from the evaluation sets); each kind
has a few registers (kanji, hiragana with spaces, half-width katakana, dialect, slang).
"""
import json
from pathlib import Path

import pytest

from knowledge.crisis import CANCELLING_CONTEXTS, crisis_tier, default_lexicon, detect_crisis, load_lexicon
from knowledge.crisis_situation import load_situations, read
from knowledge.normalize import normalize

DANGER_BY_KIND = {
    "overdose done": ["頭痛薬を二箱ぜんぶ飲んでしまった", "ねむりぐすり　ありったけ　のんだ　ふらふら",
                      "ﾛｷｿﾆﾝ40錠いった"],
    "overdose about": ["今夜、ためとった眠剤を全部飲むつもり", "くすり　ぜんぶ　ならべた　いまから　のむ"],
    "self-harm": ["さっき太ももを切った、血がとまらん", "ｶﾐｿﾘ ﾃﾞ ﾃｸﾋﾞ ｷｯﾁｬｯﾀ", "切りたくてしかたない、はさみ握ってる"],
    "high place": ["いま歩道橋の上、飛び降りようか迷ってる", "団地の屋上の柵を乗り越えた",
                   "がけの　うえ　きた。とんだら　らくに　なれる"],
    "means and plan": ["練炭を買い揃えた。土曜に決行する", "ロープはもう結んである、明日の夜にする",
                       "遺書を書き終えた"],
    "passive wish": ["このまま朝が来なくていい", "おらんようになれたらええのに", "生きとる意味がわからん"],
    "harm to others": ["あのクソ上司、明日バット持って会社行く", "嫁に手ぇあげてしまいそうで怖い",
                       "今から兄貴ぶち殺しに行く"],
    "violence now": ["今、彼氏に蹴られとる", "おかあさんが　おとうさんに　なぐられてる",
                     "息子が暴れて、妻が包丁を向けられています"],
    "chased": ["元夫が玄関のドアを蹴ってる、入ってきそう", "借金取りが家の前で待っとる",
               "前の仲間に追われて、今コンビニに隠れてる"],
    "medical": ["父が倒れて意識がない", "ともだちが　よんでも　おきない　さけ　のみすぎ",
                "祖母が急にろれつが回らなくなった"],
}

HARMLESS_BY_KIND = {
    "idiom": ["笑いすぎて死にそう", "仕事が多すぎて死ぬ", "首を長くして待ってる"],
    "fiction": ["ドラマで主人公が屋上から飛び降りるシーンがあった", "映画で犯人に刺される場面がこわかった"],
    "past over": ["昔はリスカしてたけど、今はもうやってない", "以前ODしたことがあるけど、今は落ち着いてる"],
    "prevention": ["保護司として、死にたいと言われたときの返し方を知りたい", "自殺予防の研修に参加したい"],
    "law question": ["正当防衛ってどこまで認められるの？", "殺人未遂って何年くらい？"],
    "everyday means": ["キャンプ用のロープを買った", "七輪でさんまを焼いた", "病院で睡眠薬を処方してもらった"],
    "grief": ["父を自殺で亡くして十年になる", "母の命日にお墓参りに行った"],
    "game": ["ゲームで崖から落ちて死んだ", "格ゲーで何回も殺された"],
}


@pytest.mark.parametrize("kind,text", [(k, t) for k, ts in DANGER_BY_KIND.items() for t in ts])
def test_each_kind_of_danger_is_recognised(kind, text):
    result = detect_crisis(text)
    assert result.is_crisis, (kind, text)
    assert result.tier in ("now", "possible")


@pytest.mark.parametrize("kind,text", [(k, t) for k, ts in HARMLESS_BY_KIND.items() for t in ts])
def test_each_kind_of_harmless_context_is_not_an_alarm(kind, text):
    assert not detect_crisis(text).is_crisis, (kind, text)


def test_a_past_marker_does_not_cancel_danger_said_to_be_now():
    assert not detect_crisis("昔は死にたかったけど、今は幸せ").is_crisis
    assert detect_crisis("昔から死にたかったし、今も死にたい").is_crisis
    assert detect_crisis("昔の仲間に見つかって、今追いかけられてる").is_crisis


def test_fiction_that_makes_the_writer_want_to_die_is_the_writers_crisis():
    assert not detect_crisis("ドラマで主人公が死にたいって言ってた").is_crisis
    assert detect_crisis("ドラマ見てたら死にたくなってきた").is_crisis


def test_a_conjugated_or_dialect_verb_is_read_by_its_dictionary_form():
    for text in ("殴られとる", "なぐられよる", "殴られてます", "なぐられてる"):
        verbs = read(normalize(text)).verbs
        assert any(v.lemma == "殴る" and v.passive and v.ongoing for v in verbs), text
    past = read(normalize("殴ってた")).verbs
    assert any(v.lemma == "殴る" and not v.passive and not v.ongoing and v.done for v in past)


def test_tiers_danger_now_and_possible_are_both_crisis():
    now = detect_crisis("死にたい")
    possible = detect_crisis("消えてしまいたい")
    assert (now.is_crisis, now.tier) == (True, "now")
    assert (possible.is_crisis, possible.tier) == (True, "possible")
    assert crisis_tier(now.crisis_id) == "now" and crisis_tier(possible.crisis_id) == "possible"
    assert detect_crisis("こんにちは").tier is None


def test_the_result_names_a_rule_never_the_text():
    lexicon = default_lexicon()
    ids = {i.id for i in lexicon.items} | {r.id for r in lexicon.situations.rules}
    for texts in DANGER_BY_KIND.values():
        for text in texts:
            result = detect_crisis(text)
            assert result.crisis_id in ids
            assert result.crisis_id not in text


def test_every_group_is_used_by_a_rule_or_a_phrase():
    lexicon = default_lexicon()
    model = lexicon.situations
    used = {g for r in model.rules for g in (*r.all, *r.any, *r.unless)}
    used |= {u for g in model.groups.values() for u in (*g.unless, *g.needs)}
    used |= {u for i in lexicon.items for u in i.unless}
    used |= set(CANCELLING_CONTEXTS)  # read by the learned danger signal (CrisisLexicon.cancelled)
    assert set(model.groups) - used == set()


def _write(tmp_path, text):
    path = tmp_path / "situations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_bad_pattern_names_its_group(tmp_path):
    with pytest.raises(ValueError, match="broken"):
        load_situations(_write(tmp_path, "groups:\n  broken:\n    patterns: ['(']\nrules: []\n"))


def test_a_pattern_that_matches_everything_is_refused(tmp_path):
    # A stray "|" at the end of a line would light the group on every message.
    with pytest.raises(ValueError, match="empty string"):
        load_situations(_write(tmp_path, "groups:\n  loose:\n    patterns: ['くすり|']\nrules: []\n"))


def test_a_rule_naming_an_unknown_group_is_refused(tmp_path):
    text = "groups:\n  a:\n    patterns: ['x']\nrules:\n  - id: r\n    all: [a, nope]\n"
    with pytest.raises(ValueError, match="nope"):
        load_situations(_write(tmp_path, text))


def test_one_id_cannot_have_two_tiers(tmp_path):
    lex = tmp_path / "lex.yaml"
    lex.write_text("items:\n  - id: violence-possible\n    tier: now\n    patterns: ['zzz']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="two tiers"):
        load_lexicon(lex)


OWN_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "crisis_own.jsonl"


def test_own_tuning_set_keeps_recall_and_false_alarms():
    rows = [json.loads(line) for line in OWN_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    danger = [r["text"] for r in rows if "intent:crisis" in r["expect"]]
    harmless = [r["text"] for r in rows if r["kind"] == "control"]
    assert len(danger) >= 150 and len(harmless) >= 150
    missed = [t for t in danger if not detect_crisis(t).is_crisis]
    alarms = [t for t in harmless if detect_crisis(t).is_crisis]
    assert len(missed) <= 0.01 * len(danger), missed
    assert len(alarms) <= 0.03 * len(harmless), alarms


def test_danger_now_wins_over_possible_in_one_message():
    assert detect_crisis("消えてしまいたい").tier == "possible"
    assert detect_crisis("消えてしまいたい、さっき薬を全部飲んだ").tier == "now"


def test_every_group_and_rule_block_is_reviewable():
    """Each word group starts with a comment saying what it is for (the file is read by people)."""
    lines = (Path(__file__).resolve().parents[2] / "knowledge" / "crisis_situations.yaml").read_text(
        encoding="utf-8").splitlines()
    start, end = lines.index("groups:"), lines.index("rules:")
    uncommented = [line.strip() for i, line in enumerate(lines[start:end], start)
                   if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":")
                   and not lines[i + 1].strip().startswith("#")]
    assert uncommented == []
