"""places: recognise a prefecture, city or area as a whole word; list only what resources.yaml holds."""
import pytest

from knowledge.places import _PREFECTURES, find_place, office_request

ALL_PREFECTURES = [full for full, _, _ in _PREFECTURES]


@pytest.mark.parametrize("text, prefecture", [
    ("大阪で", "大阪府"),
    ("札幌に住んでる", "北海道"),
    ("福岡市", "福岡県"),
    ("東京都", "東京都"),
    ("東京都に住んでます", "東京都"),
    ("京都です", "京都府"),
    ("ほっかいどう", "北海道"),
    ("おおさかにすんでる", "大阪府"),
    ("ｵｵｻｶ", "大阪府"),
    ("名古屋市です", "愛知県"),
    ("横浜に住んでる", "神奈川県"),
    ("あきたけん", "秋田県"),
    ("さがけんにすんでる", "佐賀県"),
    ("かがわけんです", "香川県"),
    ("大分県", "大分県"),
    ("大分に住んどる", "大分県"),
    ("長野県です", "長野県"),
    ("福島", "福島県"),
    ("東京駅の近く", "東京都"),
    ("札幌市中央区に住んでる", "北海道"),
])
def test_find_place(text, prefecture):
    place = find_place(text)
    assert place is not None and place.prefecture == prefecture


@pytest.mark.parametrize("text, prefecture, city", [
    ("博多に住んどるっちゃけど近くの窓口どこ？", "福岡県", "博多"),
    ("梅田の近くに住んどるんやけど", "大阪府", "梅田"),
    ("札幌さ住んでるんだけど、どこさ行けばいいべ", "北海道", "札幌"),
    ("仙台に住んどるっちゃ", "宮城県", "仙台"),
    ("天神で働いとるけん", "福岡県", "天神"),
])
def test_city_inside_dialect_sentence(text, prefecture, city):
    place = find_place(text)
    assert place is not None and (place.prefecture, place.city) == (prefecture, city)


@pytest.mark.parametrize("text, prefecture", [
    ("福岡におるっちゃけど、どこ行けばいいと？", "福岡県"),
    ("大阪やねんけど、どこに相談したらええの", "大阪府"),
    ("北海道なんだわ、窓口どこさあるの", "北海道"),
    ("おら北海道さ住んでるだ", "北海道"),
])
def test_prefecture_inside_dialect_sentence(text, prefecture):
    place = find_place(text)
    assert place is not None and place.prefecture == prefecture


@pytest.mark.parametrize("text", [
    "明日の天気は?",
    "",
    "さがしてる",            # 探してる, not 佐賀
    "仕事をさがしています",
    "それなら行く",          # 〜なら, not 奈良
    "ならいいけど",
    "もう飽きた",            # not 秋田
    "もうあきた",
    "もうあきたし",
    "大分前に出所した",      # だいぶ前, not 大分
    "大分よくなった",
    "梅田さんに会った",      # a person
    "しがない人生だ",        # not 滋賀
    "よく見える",
])
def test_everyday_words_are_not_places(text):
    assert find_place(text) is None


@pytest.mark.parametrize("prefecture", ALL_PREFECTURES)
def test_every_prefecture_is_recognised_by_full_and_short_name(prefecture):
    short = prefecture if prefecture == "北海道" else prefecture[:-1]
    assert find_place(f"{prefecture}に住んでいます").prefecture == prefecture
    assert find_place(f"{short}に住んでいます").prefecture == prefecture


def test_first_place_in_the_message_wins():
    assert find_place("東京に住んでるけど実家は大阪").prefecture == "東京都"


@pytest.mark.parametrize("text, prefecture", [
    ("博多に住んどるっちゃけど近くの窓口どこ？", "福岡県"),
    ("名古屋に住んでます。保護観察所の場所を教えて", "愛知県"),
    ("ぐんまけんの定着支援センターの電話番号は？", "群馬県"),
])
def test_office_request_needs_a_place_and_a_question(text, prefecture):
    assert office_request(text).prefecture == prefecture


@pytest.mark.parametrize("text", ["大阪に住んでます", "窓口はどこ？", "博多ラーメンが好き"])
def test_not_an_office_request(text):
    assert office_request(text) is None


@pytest.mark.parametrize("text", ["仕事を探したい", "大阪に住んでます", "博多ラーメンが好き", "住むところがない"])
def test_a_message_naming_no_office_is_not_tokenised_again(text, monkeypatch):
    # why: the engine asks office_request of every message; most name no office, and finding a
    # place costs a second tokenisation (issue 20's profile of the worker's turn)
    from knowledge import places

    def refuse():
        raise AssertionError("office_request tokenised a message that names no office")

    monkeypatch.setattr(places, "_tokenizer", refuse)
    assert office_request(text) is None
