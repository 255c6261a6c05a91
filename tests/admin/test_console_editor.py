"""The editor console over HTTP: login steps, role checks, CSRF, preview, try-it, review."""
from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient

from core import db
from tests.kb_helpers import PASSWORD, copy_entries, make_staff

ENTRY = "soudan-muryo"


@pytest.fixture
def app(settings, tmp_path):
    from bot import runtime
    from bot.app import create_app

    runtime.set_runtime(runtime.Runtime(copy_entries(tmp_path), check_every=0))
    return create_app(settings)


@pytest.fixture
def people(app):
    secrets = {name: pyotp.random_base32() for name in ("alice", "bob", "sam")}
    with db.session_scope() as s:
        make_staff(s, "alice", ["editor"], totp_secret=secrets["alice"])
        make_staff(s, "bob", ["editor"], totp_secret=secrets["bob"])
        make_staff(s, "sam", ["staff"], totp_secret=secrets["sam"])
    return secrets


def client(app) -> TestClient:
    # why https: the session cookie is a __Host- cookie, sent only over a secure connection
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(app, username: str, secret: str) -> tuple[TestClient, str]:
    """Signs in with password + TOTP; returns the client and a CSRF token for its forms."""
    c = client(app)
    page = c.get("/console/login")
    r = c.post("/console/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console/login/totp", r.text
    page = c.get("/console/login/totp")
    r = c.post("/console/login/totp", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
    home = c.get("/console")
    page = c.get(home.headers["location"])
    return c, csrf_of(page.text)


def test_anonymous_is_sent_to_login(app):
    c = client(app)
    for path in ("/console", "/console/kb", "/console/kb/unanswered", "/console/kb/e/" + ENTRY):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert c.post("/console/kb/e/soudan-muryo/draft").headers["location"] == "/console/login"


def test_staff_without_editor_role_gets_403_and_no_kb_link(app, people):
    c, _csrf = login(app, "sam", people["sam"])
    for path in ("/console/kb", "/console/kb/unanswered", "/console/kb/e/" + ENTRY, "/console/kb/new"):
        r = c.get(path)
        assert r.status_code == 403
        assert "知識ベース" not in r.text and "soudan" not in r.text
    with db.session_scope() as s:
        from sqlmodel import select

        from admin.models import AuditEvent

        assert s.exec(select(AuditEvent).where(AuditEvent.action == "authz.denied")).first() is not None


def test_editor_nav_shows_only_their_sections(app, people):
    c, _csrf = login(app, "alice", people["alice"])
    page = c.get("/console/kb")
    assert page.status_code == 200
    nav = re.search(r'<nav class="mainnav".*?</nav>', page.text, re.S).group(0)
    assert "知識ベース" in nav and "管理" not in nav


def test_post_without_csrf_is_refused(app, people):
    c, csrf = login(app, "alice", people["alice"])
    r = c.post(f"/console/kb/e/{ENTRY}/draft")
    assert r.status_code == 403 and "トークン" in r.text
    r = c.post(f"/console/kb/e/{ENTRY}/draft", data={"csrf_token": "0" * 64})
    assert r.status_code == 403
    r = c.post(f"/console/kb/e/{ENTRY}/draft", data={"csrf_token": csrf})
    assert r.status_code == 303


def test_login_form_needs_its_csrf_token(app, people):
    c = client(app)
    c.get("/console/login")
    r = c.post("/console/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403


def test_list_search_and_stale_flag(app, people):
    c, _csrf = login(app, "alice", people["alice"])
    page = c.get("/console/kb", params={"q": "無料"})
    assert ENTRY in page.text and "sumai-ga-nai" not in page.text
    page = c.get("/console/kb", params={"only": "stale"})
    assert "要確認" in page.text and "hogo-kansatsu" in page.text  # 令和5年 etc.: older than 12 months


def _start_draft(c, csrf) -> str:
    r = c.post(f"/console/kb/e/{ENTRY}/draft", data={"csrf_token": csrf})
    assert r.status_code == 303
    return r.headers["location"]


def _form_of(html: str) -> dict:
    """The edit form's current values (enough of them to save it back)."""
    form = re.search(r'<form method="post" action="[^"]+/save".*?</form>', html, re.S).group(0)
    data: dict = {"csrf_token": csrf_of(html)}
    for name, value in re.findall(r'<input name="(\w+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(value)
    for name, value in re.findall(r'<textarea name="(\w+)"[^>]*>(.*?)</textarea>', form, re.S):
        data.setdefault(name, []).append(value)
    import html as h

    return {k: ([h.unescape(x) for x in v] if isinstance(v, list) else v) for k, v in data.items()}


def test_preview_and_try_it_render(app, people):
    c, csrf = login(app, "alice", people["alice"])
    url = _start_draft(c, csrf)
    page = c.get(url)
    assert page.status_code == 200
    assert 'class="flex-bubble"' in page.text and 'class="webchat-preview"' in page.text
    assert "人と話したい" in page.text  # the LINE bubble's hand-off button / quick reply
    vid = url.rsplit("/", 1)[1]
    data = _form_of(page.text)
    data["answer"] = ["プレビュー用の新しい回答です。"]
    r = c.post(f"/console/kb/v/{vid}/preview", data=data, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200 and "プレビュー用の新しい回答です。" in r.text
    r = c.post(f"/console/kb/v/{vid}/try", data={"question": "相談するのにお金はかかりますか"}, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200
    assert "いま公開中の判定" in r.text and ENTRY in r.text


def test_save_invalid_draft_keeps_it_and_submit_explains(app, people):
    c, csrf = login(app, "alice", people["alice"])
    url = _start_draft(c, csrf)
    vid = url.rsplit("/", 1)[1]
    data = _form_of(c.get(url).text)
    data["questions"] = ["ひとつだけ"]
    data["then"] = "submit"
    r = c.post(f"/console/kb/v/{vid}/save", data=data)
    assert r.status_code == 422
    assert "まだ確認に出せません" in r.text and "1 個しかありません" in r.text
    assert "ひとつだけ" in c.get(url).text  # the draft kept what was typed


def test_author_cannot_publish_and_second_editor_can(app, people):
    alice, csrf_a = login(app, "alice", people["alice"])
    url = _start_draft(alice, csrf_a)
    vid = url.rsplit("/", 1)[1]
    data = _form_of(alice.get(url).text)
    data["answer"] = ["相談は無料です。ここに書いてください。"]
    data["then"] = "submit"
    r = alice.post(f"/console/kb/v/{vid}/save", data=data)
    assert r.status_code == 303, r.text
    r = alice.post(f"/console/kb/v/{vid}/publish", data={"csrf_token": csrf_a})
    assert r.status_code == 409 and "自分で書いた版" in r.text

    bob, csrf_b = login(app, "bob", people["bob"])
    page = bob.get(f"/console/kb/v/{vid}")
    assert "承認して公開する" in page.text
    r = bob.post(f"/console/kb/v/{vid}/publish", data={"csrf_token": csrf_b})
    assert r.status_code == 303
    assert app.state.runtime.knowledge.kb.get(ENTRY).answer == "相談は無料です。ここに書いてください。"
    history = bob.get(f"/console/kb/e/{ENTRY}").text
    assert "公開中" in history and "過去の版" in history


def test_unanswered_questions_grouped_without_identity(app, people, tmp_path):
    from tests.conftest import ChatDriver

    rt = app.state.runtime
    for user in ("u1", "u2"):
        chat = ChatDriver(rt, user=user)
        chat.say("こんにちは")
        chat.press("c:y")
        chat.say("保護猫の譲渡会はいつですか")
    unconsented = ChatDriver(rt, user="u3")
    unconsented.say("こんにちは")
    unconsented.say("保護猫の譲渡会はいつですか")
    c, csrf = login(app, "alice", people["alice"])
    page = c.get("/console/kb/unanswered")
    assert page.status_code == 200
    assert page.text.count("保護猫の譲渡会はいつですか") >= 2
    assert "2 件" in page.text
    assert "相談者" not in page.text  # no pseudonyms
    ids = re.findall(r'name="message_id" value="(\d+)"', page.text)
    r = c.post("/console/kb/unanswered/paraphrase", data={"csrf_token": csrf, "entry_id": "tokumei", "message_id": ids})
    assert r.status_code == 303
    draft = c.get(r.headers["location"]).text
    assert "保護猫の譲渡会はいつですか" in draft


def test_every_console_route_declares_its_roles(app):
    from fastapi import APIRouter

    from admin.console import check_guarded

    check_guarded(app)  # the installed console passes
    assert app.state.console_routes_checked >= 20  # ...and really looked at the pages
    stray = APIRouter()

    @stray.get("/console/forgot-roles")
    def forgot():
        return "oops"

    app.include_router(stray)
    with pytest.raises(RuntimeError, match="/console/forgot-roles"):
        check_guarded(app)


def test_done_codes_never_show_url_text(app, people):
    c, _csrf = login(app, "alice", people["alice"])
    page = c.get("/console/kb", params={"done": "published", "flash": "パスワードを送ってください"})
    assert page.status_code == 200 and "パスワードを送ってください" not in page.text


def test_list_shows_the_legal_review_badge(app, people):
    c, _csrf = login(app, "alice", people["alice"])
    page = c.get("/console/kb")
    row = re.search(r"<tr>\s*<td[^>]*><a [^>]*>相談した内容は秘密にしてもらえる\?</a>.*?</tr>", page.text, re.S).group(0)
    assert 'class="badge review"' in row and "法務確認待ち" in row
    row = re.search(r"<tr>\s*<td[^>]*><a [^>]*>相談にお金はかかる\?</a>.*?</tr>", page.text, re.S).group(0)
    assert "法務確認待ち" not in row


def test_an_admin_reads_the_knowledge_base_but_cannot_change_it(app):
    from tests.staff_helpers import client_for, make_staff

    admin_id, _ = make_staff("kanri-kb", ["admin"])
    c = client_for(app, admin_id)
    listing = c.get("/console/kb")
    assert listing.status_code == 200 and ENTRY in listing.text
    assert "/console/kb/new" not in listing.text and "読むだけ" in listing.text
    page = c.get(f"/console/kb/e/{ENTRY}")
    assert page.status_code == 200 and "この項目を編集する" not in page.text
    assert c.get("/console/kb/unanswered").status_code == 403
    assert c.get("/console/kb/new").status_code == 403


def test_try_it_uses_the_text_on_screen_and_the_diff_shows_the_answer(app, people):
    c, csrf = login(app, "alice", people["alice"])
    r = c.post(f"/console/kb/e/{ENTRY}/draft", data={"csrf_token": csrf})
    vid = r.headers["location"].split("/v/")[1].split("?")[0]
    form = c.get(f"/console/kb/v/{vid}").text
    title = re.search(r'name="title"[^>]*value="([^"]*)"', form).group(1)
    unsaved = {"csrf_token": csrf, "title": title, "answer": "テスト用の答え。", "questions": "ペンギンの飼い方を教えて", "as_of": "2026年11月", "question": "ペンギンの飼い方を教えて"}
    tried = c.post(f"/console/kb/v/{vid}/try", data=unsaved).text
    assert "この版を公開すると、この質問への答えが変わります" in tried  # the unsaved question was used
    saved_only = c.post(f"/console/kb/v/{vid}/try", data={"csrf_token": csrf, "question": "ペンギンの飼い方を教えて"}).text
    assert "答えが変わります" not in saved_only  # without the form: the saved draft, unchanged

    fields = {k: v for k, v in unsaved.items() if k != "question"}
    assert c.post(f"/console/kb/v/{vid}/save", data=fields).status_code in (200, 303)
    diff = c.get(f"/console/kb/v/{vid}/diff").text
    assert "【回答】" in diff and "テスト用の答え。" in diff and "keywords:" not in diff


def test_the_preview_is_the_engines_own_answer(app, people):
    """The preview comes from the engine (injected by bot/app.py), not a copy of it in the console."""
    from bot import answers
    from bot.texts import FURIGANA_LABEL
    from knowledge.kb import parse_entry

    c, csrf = login(app, "alice", people["alice"])
    url = _start_draft(c, csrf)
    data = _form_of(c.get(url).text)
    data["answer"] = ["プレビュー用の新しい回答です。"]
    r = c.post(f"/console/kb/v/{url.rsplit('/', 1)[1]}/preview", data=data, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 200
    assert FURIGANA_LABEL in r.text  # the engine's quick reply under every answer
    entry = parse_entry((app.state.runtime.entries_dir / f"{ENTRY}.md").read_text(encoding="utf-8"))
    sent = answers.answer_messages(entry)
    assert [m.kind for m in app.state.answer_preview(entry).messages] == [m.kind for m in sent]
    assert [b.label for b in app.state.answer_preview(entry).messages[0].quick_replies] == [b.label for b in sent[0].quick_replies]
