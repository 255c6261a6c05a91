"""Issue 18: the web chat's 「ふりがな」 switch — readings over kanji with <ruby>, rendered on the
server (so the page without JavaScript has them too), escaped, with the entry's own readings.

The browser half (the switch in place, at 390 px, remembered) is tests/e2e/test_browser_furigana.py.
"""
from __future__ import annotations

import re

import pytest
from sqlmodel import select

from bot.channels.web.render import ruby_tel
from core import db
from core.messages import A_ENTRY, A_FURIGANA
from handoff.models import Ticket
from knowledge.furigana import as_parentheses
from tests.bot.test_web_chat import HOUSING, _Page, app, client, page, post  # noqa: F401 — fixtures

# The words people must say at a counter. 保護観察所 is read ほごかんさつしょ: that is how the
# Ministry of Justice reads it (moj.go.jp/KIDS/info/hogokyoku.html 「保護観察所(ほごかんさつしょ)」,
# and e-Gov's kana for 保護観察所組織規則 「ほごかんさつしょそしききそく」).
KEY_TERMS = [
    ("更生緊急保護", "<ruby>更生緊急保護<rt>こうせいきんきゅうほご</rt></ruby>", "更生緊急保護(こうせいきんきゅうほご)"),
    ("遵守事項", "<ruby>遵守事項<rt>じゅんしゅじこう</rt></ruby>", "遵守事項(じゅんしゅじこう)"),
    ("療育手帳", "<ruby>療育手帳<rt>りょういくてちょう</rt></ruby>", "療育手帳(りょういくてちょう)"),
    ("保護観察所", "<ruby>保護観察所<rt>ほごかんさつしょ</rt></ruby>", "保護観察所(ほごかんさつしょ)"),
    ("更生保護施設", "<ruby>更生保護施設<rt>こうせいほごしせつ</rt></ruby>", "更生保護施設(こうせいほごしせつ)"),
    ("自立準備ホーム", "<ruby>自立準備<rt>じりつじゅんび</rt></ruby>ホーム", "自立準備(じりつじゅんび)ホーム"),
    ("保護司", "<ruby>保護司<rt>ほごし</rt></ruby>", "保護司(ほごし)"),
]


@pytest.mark.parametrize(("word", "ruby", "brackets"), KEY_TERMS)
def test_key_terms_read_right_in_ruby_and_in_brackets(word, ruby, brackets):
    assert str(ruby_tel(word)) == ruby
    assert as_parentheses(word) == brackets


def test_everything_but_ruby_and_phone_links_is_escaped():
    html = str(ruby_tel('<script>alert("保護司")</script>更生&保護 "施設" 110番'))
    assert "<script" not in html and "</script>" not in html
    assert html.startswith("&lt;script&gt;alert(&quot;<ruby>保護司<rt>ほごし</rt></ruby>&quot;)&lt;/script&gt;")
    assert "<ruby>更生<rt>こうせい</rt></ruby>&amp;<ruby>保護<rt>ほご</rt></ruby>" in html
    assert '&quot;<ruby>施設<rt>しせつ</rt></ruby>&quot;' in html
    # 番 gets a reading and 110 is still tap-to-call
    assert '<a class="tel" href="tel:110">110</a><ruby>番<rt>ばん</rt></ruby>' in html
    assert set(re.findall(r"</?([a-z]+)", html)) == {"ruby", "rt", "a"}


def _switch(html: str) -> str:
    return re.search(r'<form method="post" action="/chat" class="furigana-switch">.*?</form>', html, re.S).group(0)


def test_the_switch_is_off_at_first_and_the_page_has_no_ruby(client):
    html, p = page(client)
    assert "<ruby>" not in html and 'class="furigana"' not in html
    switch = _switch(html)
    assert 'aria-pressed="false"' in switch and 'name="furigana" value="1"' in switch and "ふりがな" in switch


def test_switched_on_without_javascript_the_whole_page_has_readings_and_it_is_remembered(client):
    post(client, action="c:y")
    post(client, text=HOUSING)
    r = client.post("/chat", data={"furigana": "1"})  # the switch is a plain form
    assert r.status_code == 303 and "ristapo_furigana=1" in r.headers["set-cookie"]
    html, p = page(client)
    assert '<html lang="ja" class="furigana">' in html
    assert 'aria-pressed="true"' in _switch(html) and 'name="furigana" value="0"' in _switch(html)
    answer = html.split('data-kind="answer"', 1)[1]
    assert "<ruby>更生保護施設<rt>こうせいほごしせつ</rt></ruby>" in answer
    assert "<ruby>自立準備<rt>じりつじゅんび</rt></ruby>ホーム" in answer
    assert HOUSING in html  # the person's own line is theirs, without readings
    # on the web the switch replaces the 「ふりがな」 quick reply (readings in brackets)
    assert A_FURIGANA not in p.actions and "(こうせいほごしせつ)" not in html

    assert client.post("/chat", data={"furigana": "0"}).status_code == 303
    html, p = page(client)
    assert "<ruby>" not in html and 'aria-pressed="false"' in _switch(html)


def test_a_query_turns_it_on_for_a_newcomer_too(client):
    r = client.get("/chat?furigana=1")
    assert "ristapo_furigana=1" in r.headers["set-cookie"]
    welcome = r.text.split('data-kind="welcome"', 1)[1].split("</div>", 1)[0]
    assert "<ruby>保護観察所<rt>ほごかんさつしょ</rt></ruby>" in welcome
    consent = r.text.split('data-kind="consent"', 1)[1].split("</form>", 1)[0]
    assert "<ruby>記録<rt>きろく</rt></ruby>" in consent


def test_the_entry_s_own_readings_win_on_the_web(client):
    post(client, action="c:y")
    client.post("/chat", data={"furigana": "1"})
    post(client, action=A_ENTRY + "yakubutsu-izon")  # front matter: 一歩: いっぽ (the dictionary says いちほ)
    html, _p = page(client)
    assert "<ruby>一歩<rt>いっぽ</rt></ruby>" in html


def test_the_page_script_gets_everything_again_with_readings(client):
    post(client, action="c:y")
    post(client, text=HOUSING)
    count = client.get("/chat/items?after=0").json()["count"]
    plain = client.get(f"/chat/items?after={count}").json()
    assert plain == {"count": count, "reset": False, "html": ""}
    client.cookies.set("ristapo_furigana", "1")  # what chat.js writes when the switch is turned on
    again = client.get(f"/chat/items?after={count}&all=1").json()
    assert again["reset"] is True and again["count"] == count
    assert "<ruby>更生緊急保護<rt>こうせいきんきゅうほご</rt></ruby>" in again["html"]
    new = client.post(f"/chat?after={count}", data={"text": HOUSING}, headers={"Accept": "application/json"}).json()
    assert "<ruby>更生保護施設<rt>こうせいほごしせつ</rt></ruby>" in new["html"]  # new bubbles too


def test_a_staff_reply_with_markup_is_escaped_with_readings(client):
    post(client, action="c:y")
    post(client, action="h")
    for _ in range(6):  # skip the short intake, whatever its length
        skips = [a for a in page(client)[1].actions if a.startswith("i:") and a.endswith(":skip")]
        if not skips:
            break
        post(client, action=skips[-1])
    from handoff import actions

    staff = actions.Actor(id=1, name="山本", roles=frozenset({"staff"}), ip=None, audit_writer=lambda *a: None)
    with db.session_scope() as s:
        ticket = actions.check_claim_ticket(s, staff, s.exec(select(Ticket)).first().id)
        actions.do_claim_ticket(s, staff, ticket)
        actions.do_reply(s, staff, ticket, "<script>alert(1)</script>山本&更生<img src=x onerror=alert(2)>")
    client.cookies.set("ristapo_furigana", "1")
    html, _p = page(client)
    staff_bubble = html.split('data-who="staff"', 1)[1].split("</div>", 1)[0]
    assert "<script>alert(1)" not in html and "<img" not in staff_bubble
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in staff_bubble
    assert "<ruby>山本<rt>やまもと</rt></ruby>&amp;<ruby>更生<rt>こうせい</rt></ruby>&lt;img" in staff_bubble


def test_a_newcomer_s_page_rendered_again_keeps_the_welcome_and_a_filled_in_consent(client):
    client.cookies.set("ristapo_furigana", "1")
    update = client.get("/chat/items?after=0&all=1").json()
    assert update["reset"] is True and update["count"] == 0
    assert _Page(update["html"]).kinds[:2] == ["welcome", "consent"]
    assert "{retention_days}" not in update["html"] and "180<ruby>日<rt>にち</rt></ruby>" in update["html"]
