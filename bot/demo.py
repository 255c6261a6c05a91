"""Demo data for a first look (``ristapo serve --demo``): accounts and simulated conversations.

Everything made here is marked: accounts are called ``demo-*``, users and tickets carry
``is_demo`` and the console shows them with a 「デモ」 badge. Without ``--demo`` nothing of
this exists (there are no default accounts).

Idempotent: a second start creates nothing twice. Demo accounts that were never activated
(first login not finished) get a fresh one-time password each start, because the earlier
one was only ever printed in a terminal that may be gone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from admin import accounts, audit, auth
from admin.models import StaffUser
from bot.runtime import get_runtime
from bot.service import handle_inbound
from core import db
from core.clock import now
from core.messages import A_CONSENT_NO, A_CONSENT_YES, A_HANDOFF, Inbound
from core.models import ChannelUser, Conversation, Message, OutboxMessage
from core.rows import saved_id
from handoff.models import CannedReply, Outcome, Ticket, TicketNote, TicketState

DEMO_ACTOR = "ristapo serve --demo"  # the audit log's actor for what the demo creates
DEMO_ACCOUNTS: list[tuple[str, str, list[str]]] = [
    ("demo-admin", "デモ 管理者", ["admin"]),
    ("demo-staff", "デモ 職員", ["staff"]),
    ("demo-staff2", "デモ 職員2", ["staff"]),
    ("demo-editor", "デモ 編集者", ["editor"]),
    # why two editors: publishing needs a second editor's approval; with one, the demo could not show it
    ("demo-editor2", "デモ 編集者2", ["editor"]),
]

# Plain words for people who may read slowly or in hiragana; {電話番号} and {受付時間} are
# filled in from the settings when staff pick the reply (admin/canned_text.py)
DEMO_CANNED = [
    ("あいさつ", "りすたぽの職員です。連絡をくれて、ありがとうございます。ここから、このチャットで話を聞きます。"),
    ("少しお待ちください", "調べますので、少し待ってください。"),
    ("電話のご案内", "電話でも相談できます。電話番号は{電話番号}です。電話がつながるのは{受付時間}です。"),
    ("相談の終わり", "相談してくれて、ありがとうございました。また困ったときは、いつでもこのチャットに書いてください。"),
]


@dataclass
class DemoConversation:
    """One simulated user: what they send (text or a button action) and how it ends."""

    key: str
    channel: str
    turns: list[tuple[str, str]]  # ("text", "...") or ("press", "c:y")
    minutes_ago: int
    ticket_state: str | None = None  # claimed / closed: set after the turns
    staff_reply: str | None = None
    note: str | None = None
    tags: str | None = None


DEMO_CONVERSATIONS = [
    DemoConversation(
        "d1", "line",
        [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "保護観察ってなんですか"), ("text", "息子が出所してから住むところがなくて困っています"),
         ("press", A_HANDOFF), ("press", "i:who:family"), ("press", "i:need:housing"), ("press", "i:urgency:days"), ("press", "i:contact:chat")],
        minutes_ago=42,
    ),
    DemoConversation(
        "d2", "telegram",
        [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "もう死にたい")],
        minutes_ago=6,
    ),
    DemoConversation(
        "d3", "web",
        [("text", "相談したいです"), ("press", A_CONSENT_NO), ("press", A_HANDOFF)],
        minutes_ago=18,
    ),
    DemoConversation(
        "d4", "line",
        [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "仕事を探したい"),
         ("press", A_HANDOFF), ("press", "i:who:self"), ("press", "i:need:work"), ("press", "i:urgency:not_urgent"), ("press", "i:contact:chat")],
        minutes_ago=75, ticket_state="claimed",
        staff_reply="りすたぽの担当職員です。お仕事探しのご相談ですね。希望する地域を教えてください。",
        note="ハローワークの専門窓口を案内する予定(デモ)", tags="就労",
    ),
    DemoConversation(
        "d5", "web",
        [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "お金がなくて生活できない"),
         ("press", A_HANDOFF), ("press", "i:who:self"), ("press", "i:need:money"), ("press", "i:urgency:days"), ("press", "i:contact:phone")],
        minutes_ago=150, ticket_state="closed",
        staff_reply="生活困窮の相談窓口をご案内します。お住まいの市の自立相談支援機関に電話してください。", tags="生活",
    ),
    DemoConversation("d6", "line", [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "更生保護施設について教えて")], minutes_ago=60 * 26),
    DemoConversation("d7", "telegram", [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "家族が逮捕されました。どうすればいいですか")], minutes_ago=60 * 50),
    DemoConversation("d8", "web", [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", "ペットの猫の病院を教えて")], minutes_ago=60 * 74),
]
# a few more short conversations spread over two weeks, so the dashboard has something to draw
DEMO_CONVERSATIONS += [
    DemoConversation(f"h{i}", channel, [("text", "こんにちは"), ("press", A_CONSENT_YES), ("text", question)], minutes_ago=60 * 24 * days + 60 * 3)
    for i, (channel, question, days) in enumerate([
        ("line", "仕事を探したい", 4), ("web", "りすたぽってなに", 5), ("line", "保護観察ってなんですか", 6),
        ("telegram", "お金がなくて生活できない", 8), ("line", "家族が逮捕されました", 9), ("web", "天気を教えて", 11),
        ("line", "出所したばかりです", 12),
    ])
]


def seed_demo(echo: Callable[[str], None]) -> None:
    """Creates (once) the demo accounts and conversations and prints how to sign in."""
    with db.session_scope() as session:
        passwords = _seed_accounts(session)
        staff_id = saved_id(session.exec(select(StaffUser).where(StaffUser.username == "demo-staff")).one())
        _seed_canned(session, staff_id)
    made = _seed_conversations(staff_id)
    echo("")
    echo("=" * 72)
    echo("デモ用データ / DEMO DATA  (ristapo serve --demo; 本番では使わないでください)")
    echo("管理画面 / console: /console")
    for username, _name, roles in DEMO_ACCOUNTS:
        pw = passwords.get(username)
        shown = pw if pw else "(設定済みのパスワードでログイン / already activated: use your own password)"
        echo(f"  {username:<12} {'+'.join(roles):<8} 一回限りのパスワード / one-time password: {shown}")
    echo("  最初のログインで新しいパスワードと二段階認証(TOTP)を設定します。")
    echo("  First login asks for a new password and TOTP enrolment (an authenticator app).")
    echo(f"  デモの会話 / demo conversations: {'作成しました / created' if made else 'すでにあります / already there'}")
    echo("=" * 72)


def _seed_accounts(session: Session) -> dict[str, str]:
    """Creates the demo accounts; fresh one-time passwords for those never activated."""
    passwords: dict[str, str] = {}
    for username, display_name, roles in DEMO_ACCOUNTS:
        user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        if user is not None and not user.must_change_password:
            continue  # activated: the person chose their own password; never overwrite it
        if user is None:
            user, otp = accounts.do_create_staff(session, username=username, display_name=display_name, roles=roles, by=DEMO_ACTOR, by_id=None, ip=None)
        else:
            otp = auth.new_one_time_password()
            user.password_hash = auth.hash_password(otp)
            user.must_change_password = True
            session.add(user)
            auth.do_end_all_sessions(session, saved_id(user))
            audit.record(session, action="staff.reset_password", actor_name=DEMO_ACTOR, target=f"staff:{user.id}")
        passwords[username] = otp
    return passwords


def _seed_canned(session: Session, staff_id: int) -> None:
    for title, body in DEMO_CANNED:
        if session.exec(select(CannedReply).where(CannedReply.title == title)).first() is None:
            session.add(CannedReply(title=title, body=body, updated_by=staff_id))


def _seed_conversations(staff_id: int) -> bool:
    """Plays each demo conversation through the real engine, then backdates it; False if present."""
    with db.session_scope() as session:
        if session.exec(select(ChannelUser.id).where(ChannelUser.is_demo == True)).first() is not None:  # noqa: E712
            return False
    rt = get_runtime()
    for demo in DEMO_CONVERSATIONS:
        with db.session_scope() as session:
            platform_id = f"demo-{demo.key}"
            for how, value in demo.turns:
                inbound = Inbound(kind="text", text=value) if how == "text" else Inbound(kind="postback", action=value)
                handled = handle_inbound(session, rt, channel=demo.channel, platform_id=platform_id, inbound=inbound)
            _mark_and_backdate(session, demo, handled.user_id, handled.conversation_id, staff_id)
    return True


def _mark_and_backdate(session: Session, demo: DemoConversation, user_id: int, conversation_id: int, staff_id: int) -> None:
    at = now() - timedelta(minutes=demo.minutes_ago)
    user = session.get_one(ChannelUser, user_id)
    user.is_demo = True
    user.platform_id = None  # why: a demo user must never be a real address anything is sent to
    user.created_at = at
    session.add(user)
    conv = session.get_one(Conversation, conversation_id)
    conv.started_at = at
    conv.last_activity_at = at + timedelta(minutes=3)
    session.add(conv)
    msgs = session.exec(select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.id))).all()
    for i, m in enumerate(msgs):
        m.created_at = at + timedelta(seconds=20 * i)
        session.add(m)
    # the simulated bot replies count as delivered: nothing of a demo is ever sent anywhere
    session.execute(
        update(OutboxMessage).where(col(OutboxMessage.user_id) == user_id).values(state="delivered", delivered_at=at, created_at=at)
    )
    ticket = session.exec(select(Ticket).where(Ticket.conversation_id == conversation_id)).first()
    if ticket is None:
        return
    opened = at + timedelta(seconds=20 * len(msgs))
    ticket.is_demo = True
    ticket.created_at = opened
    ticket.last_user_message_at = opened
    ticket.tags = demo.tags
    if demo.ticket_state in ("claimed", "closed"):
        ticket.state = TicketState.claimed.value
        ticket.assignee_id = staff_id
        ticket.claimed_at = opened + timedelta(minutes=8)
    if demo.staff_reply:
        replied = opened + timedelta(minutes=10)
        row = OutboxMessage(user_id=user_id, channel=demo.channel, payload="[]", state="delivered", sender="staff", staff_id=staff_id, created_at=replied, delivered_at=replied)
        session.add(row)
        session.flush()
        session.add(Message(conversation_id=conversation_id, direction="out", sender="staff", staff_id=staff_id, kind="staff", body=demo.staff_reply, outbox_id=row.id, created_at=replied))
        ticket.last_staff_reply_at = replied
    if demo.note:
        session.add(TicketNote(ticket_id=saved_id(ticket), staff_id=staff_id, body=demo.note, created_at=opened + timedelta(minutes=9)))
    if demo.ticket_state == "closed":
        ticket.state = TicketState.closed.value
        ticket.outcome = Outcome.information.value
        ticket.closed_at = opened + timedelta(minutes=25)
        ticket.closed_by = staff_id
        conv.state = "ready"
        conv.current_ticket_id = None
    session.add(ticket)
    session.flush()
