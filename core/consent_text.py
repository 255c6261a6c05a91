"""The consent-A text users are asked to agree to: the packaged versions and the newest published one.

Why in core: the bot asks with it and the admin console publishes new versions of it; both
rooms read the same rows the same way (the admin may not import the bot).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from sqlmodel import Session, col, select

from core.models import ConsentText

CONSENT_V1 = Path(__file__).with_name("consent_v1.md")
CONSENT_V2 = Path(__file__).with_name("consent_v2.md")
# The consent texts shipped with the code, oldest first (version = position + 1).
PACKAGED_CONSENT = (CONSENT_V1, CONSENT_V2)
# Packaged versions that keep exactly what an older version kept: someone who accepted that
# older version is not asked again (v2 only rewrites v1 shorter; what is kept is unchanged).
SAME_DATA_AS = {2: 1}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _packaged_text(version: int) -> str:
    return PACKAGED_CONSENT[version - 1].read_text(encoding="utf-8").strip()


def current_consent_text(session: Session) -> ConsentText:
    """The newest consent-A text. The newest packaged text is published on first use, and
    replaces an older packaged one nobody edited (an admin's own text is never replaced)."""
    row = session.exec(select(ConsentText).where(ConsentText.kind == "A").order_by(col(ConsentText.version).desc())).first()
    newest = len(PACKAGED_CONSENT)
    if row is None or (row.version < newest and row.text_hash == text_hash(_packaged_text(row.version))):
        text = _packaged_text(newest)
        row = ConsentText(kind="A", version=newest, text=text, text_hash=text_hash(text))
        session.add(row)
        session.flush()
    return row


def still_valid_from(row: ConsentText) -> int:
    """The oldest accepted version that covers what this version keeps (users below are asked again)."""
    same = SAME_DATA_AS.get(row.version)
    if same is not None and row.text_hash == text_hash(_packaged_text(row.version)):
        return same
    return row.version
