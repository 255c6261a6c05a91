"""Consent v2: short first screen, retention filled in, 「くわしく」, and no re-ask when what is kept is unchanged."""
from __future__ import annotations

from sqlmodel import delete, select

from core import db
from core.messages import A_ENTRY
from core.models import ConsentText, Conversation


def _consent(out):
    return next(m for m in out if m.kind == "consent")


def test_first_screen_is_short_and_filled_from_settings(chat, settings):
    msg = _consent(chat.say("こんにちは"))
    assert "{retention_days}" not in msg.text and f"{settings.retention_days}日で消します" in msg.text
    assert "Telegram" not in msg.text and "LINE" not in msg.text
    assert len(msg.text) < 200
    assert any(b.label == "くわしく" and b.action == A_ENTRY + "himitsu" for b in msg.buttons)


def test_details_button_shows_who_reads_and_keeps_the_consent_choice(chat):
    chat.say("こんにちは")
    out = chat.press(A_ENTRY + "himitsu")
    assert out[-1].entry_id == "himitsu" and "保護観察所の職員が読みます" in out[-1].text
    assert {b.label for b in out[-1].quick_replies} >= {"同意する", "同意しない"}


def _downgrade_to_v1():
    """A database from before v2: only the packaged v1 text, and a user who accepted it."""
    from bot.runtime import clear_consent_cache
    from core.consent_text import CONSENT_V1, text_hash

    with db.session_scope() as s:
        s.exec(delete(ConsentText))
        text = CONSENT_V1.read_text(encoding="utf-8").strip()
        s.add(ConsentText(kind="A", version=1, text=text, text_hash=text_hash(text)))
        for conv in s.exec(select(Conversation)).all():
            conv.consent_version = 1
            s.add(conv)
    clear_consent_cache()


def test_users_who_accepted_v1_are_not_asked_again(consented_chat):
    _downgrade_to_v1()
    out = consented_chat.say("仕事を探したい")
    assert all(m.kind != "consent" for m in out)
    with db.session_scope() as s:
        assert s.exec(select(ConsentText.version).order_by(ConsentText.version.desc())).first() == 2


def test_uketsuke_answer_states_the_configured_hours(consented_chat):
    out = consented_chat.press(A_ENTRY + "uketsuke-jikan")
    assert "{office_hours}" not in out[-1].text and "8時30分から17時15分" in out[-1].text
