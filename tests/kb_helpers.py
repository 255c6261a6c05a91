"""Helpers shared by the editor-workflow tests: a private copy of the KB and staff personas."""
from __future__ import annotations

import shutil
from functools import lru_cache
from pathlib import Path

from knowledge.kb import ENTRIES_DIR

PASSWORD = "kuma-no-pu-san-42x"


def copy_entries(tmp_path: Path) -> Path:
    """A copy of the packaged entries, so tests never touch knowledge/entries."""
    target = tmp_path / "entries"
    shutil.copytree(ENTRIES_DIR, target)
    return target


@lru_cache
def _password_hash() -> str:
    from admin.auth import hash_password

    return hash_password(PASSWORD)  # why cached: argon2 is slow on purpose; one hash serves every persona


def make_staff(session, username: str, roles: list[str], *, totp_secret: str | None = None):
    """A ready-to-use account (password changed, TOTP enrolled when a secret is given)."""
    from admin.models import StaffUser

    user = StaffUser(username=username, display_name=username, roles=",".join(sorted(roles)),
                     password_hash=_password_hash(), must_change_password=False, totp_secret=totp_secret)
    session.add(user)
    session.flush()
    return user
