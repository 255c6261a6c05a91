"""Conversations: "where is my office" gets the office's name, address and phone, in any phrasing."""
import pytest

# Three prefectures whose directory entries have an address and a phone, each asked three ways:
# in one message, in dialect naming a city, and in two turns (question, then the place).
CASES = {
    "愛知県": ("名古屋保護観察所", "名古屋市中区三の丸4-3-1", "052-951-2949", [
        ["愛知の保護観察所はどこですか"],
        ["名古屋に住んどるんだけど、近くの窓口はどこにあるの？"],
        ["保護観察所ってどこにあるんですか", "あいちです"],
    ]),
    "大阪府": ("大阪府地域生活定着支援センター", "大阪市中央区谷町7-4-15", "06-6762-8644", [
        ["大阪の保護観察所はどこ？"],
        ["梅田に住んどるんやけど近くの窓口どこ？"],
        ["近くの相談窓口を知りたい", "大阪です"],
    ]),
    "群馬県": ("群馬県地域生活定着支援センター", "前橋市青梨子町1655", "027-253-7000", [
        ["群馬県の定着支援センターの電話番号を教えて"],
        ["高崎に住んどるけど、相談できる窓口はどこ？"],
        ["保護観察所ってどこにあるんですか", "ぐんまけん"],
    ]),
}


@pytest.mark.parametrize("prefecture, phrasing", [(p, i) for p in CASES for i in range(3)])
def test_where_is_my_office(consented_chat, prefecture, phrasing):
    name, address, phone, phrasings = CASES[prefecture]
    for line in phrasings[phrasing]:
        consented_chat.say(line)
    text = consented_chat.text()
    assert name in text and address in text and f"電話: {phone}" in text


def test_office_without_a_verified_number_says_so(consented_chat):
    consented_chat.say("博多に住んどるっちゃけど近くの窓口どこ？")
    text = consented_chat.text()
    assert "福岡保護観察所" in text
    assert "住所・電話番号はここでは確認できていません" in text
    assert "お伝えできます" not in text


def test_tokyo_centre_answer_does_not_promise_the_address(consented_chat):
    consented_chat.say("東京の定着支援センターの連絡先は？")
    text = consented_chat.text()
    assert "03-5927-8231" in text and "公表されていません" in text
    assert "職員がお伝え" not in text


def test_searching_is_not_saga(consented_chat):
    consented_chat.say("仕事をさがしてるんやけど、どこに相談したらいい？")
    assert "佐賀" not in consented_chat.text()


def test_asking_for_a_person_still_reaches_a_person(consented_chat):
    consented_chat.say("大阪の保護観察所の人と話したい")
    assert "お近くの窓口です" not in consented_chat.text()
