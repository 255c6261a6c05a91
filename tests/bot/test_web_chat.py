"""The web chat at /chat through HTTP: consent, answers with buttons, hand-off, crisis, privacy."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core import db
from core.models import Consent, Message
from handoff.models import Ticket

HOUSING = "住むところがない"


def _mount_web_chat_only(app, settings):
    from bot.channels import web

    web.install(app, settings)


@pytest.fixture
def app(settings, monkeypatch):
    from bot.app import create_app

    monkeypatch.setenv("RISTAPO_RUN_WORKERS", "0")
    # why: these tests drive only /chat; channels and the console have their own tests (the
    # browser test runs the whole app)
    monkeypatch.setattr("bot.app.mount_rooms", _mount_web_chat_only)
    return create_app(settings)


@pytest.fixture
def client(app):
    # no lifespan: the web chat needs only the database and the runtime
    return TestClient(app, follow_redirects=False)


class _Page(HTMLParser):
    """Bubbles (data-kind), buttons (action values) and every URL-bearing attribute of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.kinds: list[str] = []
        self.actions: list[str] = []
        self.urls: list[str] = []
        self.forms: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-kind" in a:
            self.kinds.append(a["data-kind"])
        if tag == "button" and a.get("name") == "action":
            self.actions.append(a.get("value") or "")
        if tag == "form":
            self.forms.append(((a.get("method") or "get").lower(), a.get("action") or ""))
        for key in ("href", "src", "action"):
            if key in a and tag != "button":
                self.urls.append(a[key] or "")


def post(client: TestClient, **form) -> None:
    r = client.post("/chat", data=form)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/chat#bottom"


def page(client: TestClient) -> tuple[str, _Page]:
    r = client.get("/chat")
    assert r.status_code == 200
    return r.text, _Page(r.text)


def _rows(model):
    with db.session_scope() as s:
        return s.exec(select(model)).all()


def test_a_newcomer_sees_the_welcome_and_the_consent_question(client):
    r = client.get("/chat")
    assert r.status_code == 200
    assert "set-cookie" not in r.headers  # nothing is created by just looking
    p = _Page(r.text)
    assert p.kinds[:2] == ["welcome", "consent"]
    assert {"c:y", "c:n"} <= set(p.actions)
    assert "記録について" in r.text and "180日" in r.text
    assert '<html lang="ja">' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_consent_answer_with_buttons_then_handoff(client):
    post(client, action="c:y")
    html, p = page(client)
    assert "consent" not in p.kinds  # answered: the question is gone
    assert "ありがとうございます" in html
    assert [(c.kind, c.choice, c.channel) for c in _rows(Consent)] == [("A", "given", "web")]

    post(client, text=HOUSING)
    html, p = page(client)
    assert "answer" in p.kinds
    assert HOUSING in html  # the user's own line, kept with consent
    assert any(a.startswith("e:") for a in p.actions)  # related entries as buttons
    assert "h" in p.actions  # 「人と話したい」 as a button

    post(client, action="h")
    html, p = page(client)
    for _ in range(6):  # skip the short intake, whatever its length
        if "handoff" in p.kinds:
            break
        skips = [a for a in p.actions if a.startswith("i:") and a.endswith(":skip")]
        assert skips, "an intake question offers とばす"
        post(client, action=skips[-1])
        html, p = page(client)
    assert p.kinds[-1] == "handoff"
    assert len(_rows(Ticket)) == 1


def test_crisis_shows_hotlines_as_tap_to_call_links(client):
    post(client, text="もう死にたい")
    r = client.get("/chat")
    p = _Page(r.text)
    assert p.kinds[0] == "crisis"
    assert 'role="alert"' in r.text
    assert 'href="tel:0120279338"' in r.text.split('data-kind="crisis"', 1)[1]
    assert len(_rows(Ticket)) == 1 and _rows(Ticket)[0].crisis


def test_the_emergency_button_works_without_typing(client):
    post(client, action="x")
    _html, p = page(client)
    assert p.kinds[0] == "crisis"


def test_before_consent_the_answer_comes_and_the_text_is_not_kept(client):
    post(client, text=HOUSING)
    html, p = page(client)
    assert "answer" in p.kinds and p.kinds[-1] == "consent"
    post(client, text="CANARY-web-4411")
    html, p = page(client)
    assert "CANARY-web-4411" not in html
    assert "残していません" in html
    assert all(m.body is None for m in _rows(Message) if m.direction == "in")


def test_cookie_is_httponly_lax_and_random(client):
    r = client.post("/chat", data={"action": "c:y"})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("ristapo_chat=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    assert len(token) >= 40


def test_cookie_is_secure_over_https(app):
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = c.post("/chat", data={"action": "c:y"})
    assert "Secure" in r.headers["set-cookie"]


def test_nothing_personal_in_urls(client):
    secret_text = "大阪市北区1-2-3 山田太郎"
    r = client.post("/chat", data={"text": secret_text})
    token = r.headers["set-cookie"].split(";", 1)[0].split("=", 1)[1]
    assert token not in r.headers["location"] and "山田" not in r.headers["location"]
    post(client, action="c:y")
    post(client, text=secret_text)
    html, p = page(client)
    assert secret_text in html  # shown to its writer (consent given) ...
    urls = p.urls + [client.get("/chat?partial=1").url.path]
    for url in urls:  # ... but never part of a link, form target or script URL
        assert token not in url and "山田" not in url and "%E5%B1%B1" not in url
    assert all(method == "post" and action == "/chat" for method, action in p.forms)
    assert token not in html  # the token is in the HttpOnly cookie only


def test_two_browsers_do_not_see_each_other(app):
    a = TestClient(app, follow_redirects=False)
    b = TestClient(app, follow_redirects=False)
    post(a, action="c:y")
    post(a, text="CANARY-only-a 仕事を探したい")
    assert "CANARY-only-a" in a.get("/chat").text
    assert "CANARY-only-a" not in b.get("/chat").text


def test_partial_returns_only_the_conversation(client):
    post(client, action="c:y")
    r = client.get("/chat?partial=1")
    assert r.status_code == 200
    assert "<html" not in r.text and 'data-kind="text"' in r.text
    assert re.search(r'<div id="bottom">', r.text)


JSON = {"Accept": "application/json"}


def test_the_page_script_gets_the_new_bubbles_as_json_instead_of_a_redirect(client):
    first = client.post("/chat?after=0", data={"action": "c:y"}, headers=JSON)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/json")
    assert "set-cookie" in first.headers and first.headers["cache-control"] == "no-store"
    update = first.json()
    assert update["reset"] is True  # the page showed the welcome: replace it all
    assert 'data-kind="text"' in update["html"] and "ありがとうございます" in update["html"]
    seen = update["count"]

    second = client.post(f"/chat?after={seen}", data={"text": HOUSING}, headers=JSON).json()
    assert second["reset"] is False and second["count"] > seen
    p = _Page(second["html"])
    assert p.kinds[0] == "answer" and "ありがとうございます" not in second["html"]  # only what is new
    assert HOUSING in second["html"]  # the person's own line comes back from the server
    assert '<details class="source"><summary>出典</summary>' in second["html"]  # sources behind a toggle

    quiet = client.get(f"/chat/items?after={second['count']}").json()
    assert quiet == {"count": second["count"], "reset": False, "html": ""}


def test_polling_finds_a_staff_reply_and_a_shorter_transcript_resets(client):
    post(client, action="c:y")
    post(client, action="h")
    seen = client.get("/chat/items?after=0").json()["count"]
    for _ in range(6):  # skip the short intake, whatever its length
        skips = [a for a in _Page(client.get("/chat").text).actions if a.startswith("i:") and a.endswith(":skip")]
        if not skips:
            break
        post(client, action=skips[-1])
    seen = client.get("/chat/items?after=0").json()["count"]
    from handoff import actions

    staff = actions.Actor(id=1, name="山本", roles=frozenset({"staff"}), ip=None, audit_writer=lambda *a: None)
    with db.session_scope() as s:
        ticket = actions.check_claim_ticket(s, staff, _rows(Ticket)[0].id)
        actions.do_claim_ticket(s, staff, ticket)
        actions.do_reply(s, staff, ticket, "職員の山本です。お話を聞きます。")
    update = client.get(f"/chat/items?after={seen}").json()
    assert update["count"] == seen + 1 and not update["reset"]
    assert 'data-who="staff"' in update["html"] and "職員より" in update["html"] and "山本" in update["html"]
    assert client.get(f"/chat/items?after={seen + 5}").json()["reset"] is True
    assert client.get("/chat/items?after=junk").json()["reset"] is True  # junk counts as nothing shown


def test_the_bottom_menu_offers_four_buttons_and_the_page_runs_one_script(client):
    html, p = page(client)
    assert {"m", "h", "x", "d"} <= set(p.actions)
    assert '<div id="announce" class="visually-hidden" aria-live="polite">' in html
    assert html.count("<script") == 1 and 'src="/static/chat.js"' in html


# --------------------------------------------------------------------------- flooding


def test_an_anonymous_flood_opens_few_tickets_and_every_throttled_answer_has_the_hotlines(app):
    from bot import texts
    from core.rate_limit import NEW_CONVERSATIONS_PER_IP

    statuses = []
    for _ in range(40):
        client = TestClient(app, follow_redirects=False)  # a new cookie-less visitor each time
        r = client.post("/chat", data={"text": "死にたい"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert "crisis" in _Page(r.text).kinds and texts.CRISIS_INTRO in r.text
    assert statuses.count(303) == NEW_CONVERSATIONS_PER_IP.amount
    assert len(_rows(Ticket)) == NEW_CONVERSATIONS_PER_IP.amount


def test_a_throttled_post_stores_nothing_and_still_names_the_hotlines(client):
    from bot.channels.web.throttle import THROTTLED
    from core.models import ChannelUser
    from core.rate_limit import PER_COOKIE

    post(client, text="こんにちは")  # the first post has no cookie yet: it counts as a new conversation
    for _ in range(PER_COOKIE.amount):
        post(client, action="m")
    before = len(_rows(Message))
    r = client.post("/chat", data={"text": f"{HOUSING}"})
    assert r.status_code == 429 and THROTTLED in r.text and "0120-279-338" in r.text
    assert len(_rows(Message)) == before and len(_rows(ChannelUser)) == 1


def test_crisis_hand_offs_of_one_person_join_their_open_ticket(client):
    from core.models import Conversation

    post(client, text="こんにちは")
    post(client, action="c:y")
    post(client, action="h")
    for _ in range(4):
        post(client, action="i:skip")
    (ticket,) = _rows(Ticket)
    assert not ticket.crisis
    with db.session_scope() as s:  # their conversation ends (e.g. idle), the ticket is still open
        conv = s.get(Conversation, ticket.conversation_id)
        conv.closed = True
        s.add(conv)
    post(client, text="死にたい")
    post(client, text="死にたい")
    (ticket,) = _rows(Ticket)
    assert ticket.crisis and ticket.priority == 0 and ticket.unread == 2

