"""``ristapo line setup-richmenu`` against the fake LINE API, and ``ristapo worker --once``."""
from __future__ import annotations

import asyncio
import struct
import zlib

from bot.channels import line_cli
from core.messages import A_DELETE, A_EMERGENCY, A_HANDOFF, A_MENU
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)


def test_generated_image_is_a_valid_png_of_the_rich_menu_size():
    png = line_cli.rich_menu_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 1_000_000
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (2500, 843)
    length = struct.unpack(">I", png[33:37])[0]
    assert png[37:41] == b"IDAT"
    assert len(zlib.decompress(png[41 : 41 + length])) == height * (1 + width * 3)


def test_setup_richmenu_creates_uploads_and_sets_default(line_env):
    settings = line_env.app.state.settings
    menu_id = asyncio.run(line_cli.setup_richmenu(settings, line_cli.rich_menu_png()))
    create, upload, default = line_env.fake.requests
    assert (create.method, create.path) == ("POST", "/v2/bot/richmenu")
    areas = create.body["areas"]
    assert [a["action"]["data"] for a in areas] == [A_MENU, A_HANDOFF, A_EMERGENCY, A_DELETE]
    assert [a["action"]["label"] for a in areas] == ["答えを探す", "人と話す", "緊急のとき", "記録の削除"]
    assert upload.path == f"/v2/bot/richmenu/{menu_id}/content"
    assert upload.headers["content-type"] == "image/png" and upload.raw[:4] == b"\x89PNG"
    assert (default.method, default.path) == ("POST", f"/v2/bot/user/all/richmenu/{menu_id}")


def test_rich_menu_taps_are_understood_as_the_same_actions(line_env):
    from tests.builders import make_line_postback_event

    line_env.post(make_line_postback_event(A_EMERGENCY, user_id="U-rm"))
    line_env.process()
    (send,) = line_env.fake.sends()
    assert any("0120" in t or "電話" in t for t in send.texts)  # the hotline block


def test_worker_once_processes_stored_events(line_env):
    from bot.worker_cli import run_workers
    from tests.builders import make_line_text_event

    line_env.post(make_line_text_event("こんにちは", user_id="U-worker"))
    line_env.drive(run_workers(line_env.app, inbox=True, outbox=True, once=True))
    assert len(line_env.fake.accepted) == 1
