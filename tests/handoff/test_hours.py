"""Office hours and honest waiting with a frozen clock (JST)."""
from __future__ import annotations

from datetime import datetime

import pytest

from core import clock
from core.clock import JST
from handoff.hours import DEFAULT_HOURS, format_when, next_opening, status
from handoff.models import OfficeHoursBase
from handoff.notice import compose_notice


@pytest.fixture
def frozen():
    def freeze(*args):
        clock.freeze(datetime(*args, tzinfo=JST))

    yield freeze
    clock.freeze(None)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def test_new_years_day_is_a_holiday_and_the_office_opens_after_the_closed_days():
    st = status(DEFAULT_HOURS, at(2027, 1, 1, 10, 0))
    assert not st.open_now
    assert st.reason == "holiday" and st.holiday_name == "元日"
    # 1/2 and 1/3 are closed days, 1/4 is a Monday
    assert st.next_open == at(2027, 1, 4, 8, 30)


def test_saturday_is_closed_until_monday_unless_monday_is_a_holiday():
    st = status(DEFAULT_HOURS, at(2027, 1, 9, 10, 0))  # Saturday; Monday 1/11 is 成人の日
    assert not st.open_now and st.reason == "no_hours_today"
    assert st.next_open == at(2027, 1, 12, 8, 30)


def test_weekday_evening_is_after_hours_and_opens_next_morning():
    st = status(DEFAULT_HOURS, at(2027, 1, 13, 22, 0))  # Wednesday
    assert not st.open_now and st.reason == "after_hours"
    assert st.next_open == at(2027, 1, 14, 8, 30)
    assert format_when(st.next_open, at(2027, 1, 13, 22, 0)) == "明日 1月14日(木) 8時30分"


def test_weekday_morning_is_open_until_the_end_of_the_day():
    st = status(DEFAULT_HOURS, at(2027, 1, 13, 10, 0))
    assert st.open_now and st.reason == "open"
    assert st.closes_at == at(2027, 1, 13, 17, 15)


def test_before_hours_and_year_end_closed_days():
    assert status(DEFAULT_HOURS, at(2027, 1, 13, 7, 0)).reason == "before_hours"
    st = status(DEFAULT_HOURS, at(2027, 12, 29, 10, 0))  # Wednesday, closed for the year end
    assert st.reason == "closed_day" and st.next_open == at(2028, 1, 4, 8, 30)


def test_configured_hours_closed_dates_and_holidays_switch():
    hours = OfficeHoursBase(weekly={"5": [("10:00", "12:00")]}, closed_dates=["2027-01-16"], public_holidays=False)
    assert status(hours, at(2027, 1, 9, 11, 0)).open_now  # Saturday hours
    assert next_opening(hours, at(2027, 1, 9, 13, 0)) == at(2027, 1, 23, 10, 0)  # 1/16 closed
    with pytest.raises(ValueError):
        OfficeHoursBase(weekly={"0": [("17:00", "09:00")]})
    with pytest.raises(ValueError):
        OfficeHoursBase(closed_days=["1229"])


def test_holiday_notice_says_nobody_reads_now_when_someone_will_and_the_numbers():
    now = at(2027, 1, 1, 10, 0)
    text = compose_notice(position=2, hours=DEFAULT_HOURS, st=status(DEFAULT_HOURS, now), at=now)
    assert "祝日(元日)" in text
    assert "読んでいる職員はいません" in text
    assert "1月4日(月) 8時30分" in text
    assert "110" in text and "0120-279-338" in text
    assert "分後" not in text  # no promise of a quick answer


def test_in_hours_notice_gives_position_and_rough_wait():
    now = at(2027, 1, 13, 10, 0)
    text = compose_notice(position=3, hours=DEFAULT_HOURS, st=status(DEFAULT_HOURS, now), at=now)
    assert "受付時間内" in text and "3番目" in text and "およそ60分後" in text
    assert "読んでいる職員はいません" not in text


def test_in_hours_notice_near_closing_says_it_may_be_tomorrow():
    now = at(2027, 1, 13, 17, 0)
    text = compose_notice(position=2, hours=DEFAULT_HOURS, st=status(DEFAULT_HOURS, now), at=now)
    assert "今日 17時15分まで" in text and "明日 1月14日(木) 8時30分" in text


@pytest.mark.parametrize(
    "moment, expected",
    [
        ((2027, 1, 1, 10, 0), "祝日(元日)"),
        ((2027, 1, 9, 10, 0), "休みの日"),
        ((2027, 1, 13, 22, 0), "受付時間が終わっています"),
        ((2027, 1, 13, 10, 0), "受付時間内"),
    ],
)
def test_the_bot_tells_the_user_honestly_when_handing_off(consented_chat, frozen, moment, expected):
    frozen(*moment)
    consented_chat.press("h")
    for _ in range(4):
        consented_chat.press("i:skip")
    text = consented_chat.text()
    assert consented_chat.kinds() == ["handoff"]
    assert expected in text and "1番目" in text
    assert "0120-279-338" in text


def test_office_hours_saved_by_admin_drive_the_notice(consented_chat, frozen):
    from core import db
    from handoff.hours import do_save_hours

    with db.session_scope() as s:
        do_save_hours(s, OfficeHoursBase(weekly={"5": [("09:00", "18:00")]}, public_holidays=True), staff_id=None)
    frozen(2027, 1, 9, 10, 0)  # a Saturday, open in this configuration
    consented_chat.press("h")
    for _ in range(4):
        consented_chat.press("i:skip")
    assert "受付時間内" in consented_chat.text()


def test_crisis_reply_at_night_says_nobody_reads_now(chat, frozen):
    frozen(2027, 1, 6, 22, 0)  # a Wednesday, after hours
    out = chat.say("もう死にたい")
    assert out[0].kind == "crisis"
    assert "読んでいる職員はいません" in out[0].text and "0120-279-338" in out[0].text


def test_crisis_reply_in_hours_says_staff_will_answer_here(chat, frozen):
    frozen(2027, 1, 6, 10, 0)
    out = chat.say("もう死にたい")
    assert "このチャットにも返事をします" in out[0].text
