"""Japanese words for the audit log's action codes (the console shows both: words, then the code).

The codes stay the stored, searchable truth (filters, CSV); the words are only for reading. An
unknown code is shown as it is, so a new action is never hidden.
"""
from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    "login.ok": "ログインした",
    "login.fail": "ログインに失敗した",
    "login.password_ok": "パスワードが合った(確認コードの前)",
    "login.throttled": "ログインの試しすぎで止めた",
    "logout": "ログアウトした",
    "queue.read": "受付箱を開いた",
    "ticket.read": "相談を開いた",
    "ticket.claim": "担当になった",
    "ticket.release": "担当をやめた",
    "ticket.transfer": "ほかの職員に引き継いだ",
    "ticket.reply": "相談者に返信した",
    "ticket.close": "相談を終えた",
    "ticket.crisis_outcome": "緊急の対応を記録した",
    "ticket.return_to_bot": "ボットの案内に戻した",
    "ticket.note": "職員メモを書いた",
    "ticket.tags": "タグを変えた",
    "ticket.consent_b_request": "ほかの機関への共有の同意をたずねた",
    "ticket.refer": "ほかの機関につないだ",
    "user.erase": "相談者の記録を消した",
    "user.export": "相談者の記録を書き出した(開示)",
    "staff.create": "アカウントを作った",
    "staff.update": "アカウントの役割・名前を変えた",
    "staff.disable": "アカウントを止めた",
    "staff.enable": "アカウントを使えるようにした",
    "staff.reset_password": "パスワードを作り直した",
    "staff.reset_totp": "確認コードの設定をやり直しにした",
    "staff.password_changed": "自分のパスワードを変えた",
    "staff.totp_enrolled": "確認コードのアプリを登録した",
    "settings.hours": "受付時間を変えた",
    "settings.retention": "保存期間を変えた",
    "canned.create": "定型文を作った",
    "canned.update": "定型文を直した",
    "canned.delete": "定型文を消した",
    "consent.publish": "同意の説明文の新しい版を出した",
    "kb.draft": "知識ベースの下書きを保存した",
    "kb.submit": "知識ベースの下書きを確認に出した",
    "kb.withdraw": "確認に出した下書きを取り下げた",
    "kb.reject": "知識ベースの下書きを差し戻した",
    "kb.publish": "知識ベースの項目を公開した",
    "kb.discard": "知識ベースの下書きを捨てた",
    "audit.export": "監査ログを書き出した",
    "authz.denied": "権限のない画面・操作を開こうとした",
}


def action_label(code: str | None) -> str:
    """The Japanese words for an action code, or the code itself when it has none yet."""
    return ACTION_LABELS.get(code or "", code or "")
