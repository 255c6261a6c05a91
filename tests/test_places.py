"""places: recognise a prefecture or city; list only what resources.yaml holds."""
import yaml
import pytest

from knowledge.places import RESOURCES_PATH, find_place, format_offices, offices_for


@pytest.fixture(scope="module")
def resources():
    return yaml.safe_load(RESOURCES_PATH.read_text(encoding="utf-8"))


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
    ("大分県", "大分県"),
])
def test_find_place(text, prefecture):
    place = find_place(text)
    assert place is not None and place.prefecture == prefecture


@pytest.mark.parametrize("text", ["明日の天気は?", "大分前に出所した", "もう飽きた", "それなら行く", ""])
def test_unknown_is_none(text):
    assert find_place(text) is None


def test_osaka_offices():
    offices = offices_for(find_place("大阪で"))
    assert offices and all(o.prefecture == "大阪府" for o in offices)
    assert "大阪保護観察所" in [o.name for o in offices]


def test_sapporo_maps_to_sapporo_office():
    place = find_place("札幌に住んでる")
    assert place.city == "札幌"
    probation = [o.name for o in offices_for(place) if o.kind == "probation_office"]
    assert probation == ["札幌保護観察所"]


def test_hokkaido_without_city_lists_all_four():
    probation = [o.name for o in offices_for(find_place("北海道")) if o.kind == "probation_office"]
    assert len(probation) == 4


def test_none_place_gives_no_offices():
    assert offices_for(None) == []


def test_no_invented_fields(resources):
    """Every returned address/phone equals the resources file value (None stays None)."""
    by_name = {it["name"]: it for key in ("probation_offices", "teichaku_centers") for it in resources[key]}
    prefectures = {it["prefecture"] for it in by_name.values()}
    for prefecture in prefectures:
        for office in offices_for(find_place(prefecture)):
            item = by_name[office.name]
            assert office.address == item.get("address")
            assert office.phone == item.get("phone")


def test_format_unknown_says_staff_can_tell():
    text = format_offices(offices_for(find_place("札幌")))
    assert "札幌保護観察所" in text
    assert "住所・電話は職員がお伝えできます" in text


def test_format_shows_known_address_and_phone(resources):
    office = next(o for o in offices_for(find_place("愛知")) if o.address and o.phone)
    text = format_offices([office])
    assert office.address in text and office.phone in text
