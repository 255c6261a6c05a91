"""directory: resources.yaml covers every prefecture, every number is sourced, answers never invent."""
import datetime
import re

import pytest
import yaml

from core.template_filters import tel_links
from knowledge.directory import MISSING_NEXT_STEP, RESOURCES_PATH, format_offices, offices_for
from knowledge.places import _PREFECTURES, Place, find_place

ALL_PREFECTURES = [full for full, _, _ in _PREFECTURES]
PHONE = re.compile(r"^0\d{1,4}-\d{1,4}-\d{3,4}$")


@pytest.fixture(scope="module")
def resources():
    return yaml.safe_load(RESOURCES_PATH.read_text(encoding="utf-8"))


def _records(resources):
    return [(key, it) for key in ("probation_offices", "teichaku_centers") for it in resources[key]]


# --- the data -------------------------------------------------------------------------------

def test_every_prefecture_has_its_probation_office_and_centre(resources):
    offices = [it["prefecture"] for it in resources["probation_offices"]]
    centres = [it["prefecture"] for it in resources["teichaku_centers"]]
    assert len(offices) == 50 and len(centres) == 48
    for prefecture in ALL_PREFECTURES:
        assert offices.count(prefecture) == (4 if prefecture == "北海道" else 1), prefecture
        assert centres.count(prefecture) == (2 if prefecture == "北海道" else 1), prefecture


def test_a_record_without_its_own_page_says_why(resources):
    for _, item in _records(resources):
        if not item.get("source_url"):
            assert item.get("note"), item["name"]
            assert not item.get("address") and not item.get("phone"), item["name"]
    for item in resources["teichaku_centers"]:
        if not item.get("source_url"):
            assert "厚生労働省" in item["note"], item["name"]


def test_every_phone_and_address_has_an_official_dated_source(resources):
    checked = 0
    for _, item in _records(resources):
        if not (item.get("phone") or item.get("address") or item.get("hours")):
            continue
        checked += 1
        assert str(item.get("source_url", "")).startswith("http"), item["name"]
        assert item.get("source_name"), item["name"]
        assert datetime.date.fromisoformat(str(item["read_on"])) <= datetime.date(2026, 12, 2), item["name"]
        assert item.get("source_kind") in ("government", "operator", "third_party"), item["name"]
        if item["source_kind"] == "third_party":
            assert item.get("source_date"), f"{item['name']}: a number from an undated third-party page"
    assert checked >= 4


def test_a_named_operator_comes_from_a_page_read_on_a_known_day(resources):
    named = [it for it in resources["teichaku_centers"] if it.get("operator")]
    assert len(named) >= 5
    for item in named:
        assert str(item.get("source_url", "")).startswith("http") and item.get("read_on"), item["name"]


def test_source_and_source_url_agree(resources):
    for _, item in _records(resources):
        assert item.get("source") == item.get("source_url"), item["name"]


def test_phone_numbers_are_written_for_tap_to_call(resources):
    for _, item in _records(resources):
        if item.get("phone"):
            assert PHONE.match(item["phone"]), item["phone"]


def test_a_private_address_is_never_stored(resources):
    private = [it for it in resources["teichaku_centers"] if it.get("address_public") is False]
    assert {it["prefecture"] for it in private} >= {"東京都"}
    assert all(not it.get("address") for it in private)


def test_localities_name_real_prefectures_once(resources):
    seen: dict[str, str] = {}
    for prefecture, names in resources["localities"].items():
        assert prefecture in ALL_PREFECTURES
        for name in names:
            assert name not in seen, f"{name}: {seen.get(name)} and {prefecture}"
            seen[name] = prefecture


# --- offices_for ----------------------------------------------------------------------------

def test_osaka_offices():
    offices = offices_for(find_place("大阪で"))
    assert offices and all(o.prefecture == "大阪府" for o in offices)
    assert [o.kind for o in offices] == ["probation_office", "teichaku_center"]
    assert offices[0].name == "大阪保護観察所"


def test_sapporo_maps_to_sapporo_office():
    probation = [o.name for o in offices_for(find_place("札幌に住んでる")) if o.kind == "probation_office"]
    assert probation == ["札幌保護観察所"]


def test_obihiro_maps_to_kushiro_office():
    probation = [o.name for o in offices_for(find_place("帯広です")) if o.kind == "probation_office"]
    assert probation == ["釧路保護観察所"]


def test_hokkaido_without_city_lists_all_four():
    probation = [o.name for o in offices_for(find_place("北海道")) if o.kind == "probation_office"]
    assert len(probation) == 4


def test_none_place_gives_no_offices():
    assert offices_for(None) == []


def test_no_invented_fields(resources):
    """Every returned address/phone/hours equals the resources file value (None stays None)."""
    by_name = {it["name"]: it for _, it in _records(resources)}
    for prefecture in ALL_PREFECTURES:
        for office in offices_for(Place(prefecture)):
            item = by_name[office.name]
            assert (office.address, office.phone, office.hours) == (item["address"], item["phone"], item["hours"])


# --- the chat text --------------------------------------------------------------------------

def test_known_office_gives_name_address_phone_hours_and_source():
    office = next(o for o in offices_for(find_place("名古屋")) if o.phone)
    text = format_offices([office])
    assert office.name in text and office.address in text and f"電話: {office.phone}" in text
    assert "受付時間: ここでは確認できていません" in text
    assert office.source_name in text


def test_unknown_office_says_plainly_that_it_is_not_here():
    text = format_offices(offices_for(find_place("札幌")))
    assert "札幌保護観察所" in text
    assert "住所・電話番号はここでは確認できていません" in text
    assert text.endswith(MISSING_NEXT_STEP)  # and what to do instead


def test_a_listing_with_every_number_gives_no_next_step_for_missing_ones():
    office = next(o for o in offices_for(find_place("名古屋")) if o.phone)
    assert MISSING_NEXT_STEP not in format_offices([office])


def test_tokyo_centre_address_is_not_public_and_nobody_promises_it():
    centre = next(o for o in offices_for(find_place("東京")) if o.kind == "teichaku_center")
    text = format_offices([centre])
    assert "公表されていません" in text
    assert "03-5927-8231" in text and "午前9時から午後6時" in text
    assert "職員" not in text and "お伝え" not in text


@pytest.mark.parametrize("prefecture", ALL_PREFECTURES)
def test_no_answer_promises_what_nobody_does(prefecture):
    text = format_offices(offices_for(Place(prefecture)))
    assert "お伝えできます" not in text and "職員が" not in text


def test_web_turns_the_phone_into_a_tel_link():
    html = str(tel_links(format_offices(offices_for(find_place("名古屋")))))
    assert 'href="tel:0529512949"' in html


def test_line_shows_the_phone_digits_as_plain_text():
    from bot.channels.line.render import render_one
    from core.messages import OutMessage

    rendered = render_one(OutMessage("text", format_offices(offices_for(find_place("名古屋")))))
    texts = [m["text"] for m in rendered if m.get("type") == "text"]
    assert any("052-951-2949" in t for t in texts)
