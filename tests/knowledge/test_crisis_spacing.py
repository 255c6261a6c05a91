"""Letters typed one by one (死 に た い, ｼ ﾆ ﾀ ｲ, 死・に・た・い) read as the word they spell.

Property-based: whatever separators stand between the letters, a danger phrase stays a crisis
and a harmless sentence stays harmless, in the crisis floor and in the FAQ matcher's input.
"""
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.crisis import detect_crisis
from knowledge.normalize import normalize

SEPARATORS = [" ", "\u3000", ".", "．", "・", "･", "…", "、", "。", ",", "  ", " . "]

DANGER = ["死にたい", "しにたい", "ｼﾆﾀｲ", "消えたい", "自殺したい", "殺してやる", "首を吊る",
          "リスカした", "ODした", "助けて殴られてる", "ﾀﾋにたい", "楽になりたい"]
HARMLESS = ["今日はいい天気", "ありがとう", "仕事を探しています", "死ぬほど疲れた", "首を長くして待つ",
            "住むところがない", "ﾊﾛｰﾜｰｸどこ", "薬は食後に飲む"]


def _spread(text: str, seps: list[str]) -> str:
    out = [text[0]]
    for i, ch in enumerate(text[1:]):
        out.append(seps[i % len(seps)])
        out.append(ch)
    return "".join(out)


separators = st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(phrase=st.sampled_from(DANGER), seps=separators)
def test_a_danger_phrase_spelled_out_is_still_crisis(phrase, seps):
    assert detect_crisis(_spread(phrase, seps)).is_crisis


@settings(max_examples=150, deadline=None)
@given(sentence=st.sampled_from(HARMLESS), seps=separators)
def test_a_harmless_sentence_spelled_out_stays_harmless(sentence, seps):
    assert not detect_crisis(_spread(sentence, seps)).is_crisis


@settings(max_examples=150, deadline=None)
@given(word=st.sampled_from(DANGER + HARMLESS), seps=separators)
def test_the_faq_matcher_input_is_the_same_as_for_the_word_typed_whole(word, seps):
    assert normalize(_spread(word, seps)) == normalize(word)
