"""``ristapo line setup-richmenu`` against the fake LINE API, and ``ristapo worker --once``."""
from __future__ import annotations

import asyncio
import importlib.util
import struct
import tomllib
from pathlib import Path

from bot.channels.line import cli as line_cli
from bot.cli import main
from core.messages import A_DELETE, A_EMERGENCY, A_HANDOFF, A_MENU
from tests.fakes.line_api import line_api, line_api_server, line_env  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["答えを探す", "人と話す", "緊急のとき", "記録の削除"]


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a valid PNG has right after its signature."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", png[16:24])


def load_image_script():
    spec = importlib.util.spec_from_file_location("make_richmenu_image", ROOT / "scripts" / "make-richmenu-image.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_image_is_a_png_of_the_rich_menu_size_under_1_mb():
    png = line_cli.rich_menu_png()
    assert png_size(png) == (line_cli.WIDTH, line_cli.HEIGHT) == (2500, 843)
    assert len(png) < 1_000_000


def test_the_image_ships_with_the_package():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    assert "*.png" in package_data
    assert line_cli.IMAGE.parent == Path(line_cli.__file__).parent


def test_areas_split_the_menu_into_four_equal_columns():
    menu = line_cli.rich_menu_definition()
    assert menu["size"] == {"width": 2500, "height": 843}
    bounds = [a["bounds"] for a in menu["areas"]]
    assert bounds == [{"x": x, "y": 0, "width": 625, "height": 843} for x in (0, 625, 1250, 1875)]
    assert [a["action"]["label"] for a in menu["areas"]] == LABELS
    assert [a["action"]["displayText"] for a in menu["areas"]] == LABELS


def test_image_tiles_are_drawn_over_the_tap_areas():
    page = load_image_script().richmenu_html()  # no browser needed to build the page
    for area in line_cli.rich_menu_definition()["areas"]:
        b = area["bounds"]
        assert f'left:{b["x"]}px;top:{b["y"]}px;width:{b["width"]}px;height:{b["height"]}px' in page
    assert 'class="tile emergency"' in page  # the hotline tile looks different


def test_setup_richmenu_creates_uploads_and_sets_default(line_env):
    settings = line_env.app.state.settings
    menu_id = asyncio.run(line_cli.setup_richmenu(settings, line_cli.rich_menu_png()))
    create, upload, default = line_env.fake.requests
    assert (create.method, create.path) == ("POST", "/v2/bot/richmenu")
    areas = create.body["areas"]
    assert [a["action"]["data"] for a in areas] == [A_MENU, A_HANDOFF, A_EMERGENCY, A_DELETE]
    assert [a["action"]["label"] for a in areas] == LABELS
    assert areas == line_cli.rich_menu_definition()["areas"]
    assert upload.path == f"/v2/bot/richmenu/{menu_id}/content"
    assert upload.headers["content-type"] == "image/png" and upload.raw[:4] == b"\x89PNG"
    assert (default.method, default.path) == ("POST", f"/v2/bot/user/all/richmenu/{menu_id}")


def test_setup_richmenu_command_uploads_the_packaged_image(line_env, capsys):
    assert main(["line", "setup-richmenu"]) == 0
    _create, upload, _default = line_env.fake.requests
    assert upload.headers["content-type"] == "image/png"
    assert png_size(upload.raw) == (2500, 843) and len(upload.raw) < 1_000_000
    assert upload.raw == line_cli.rich_menu_png()
    assert "installed as the default" in capsys.readouterr().out


def test_write_image_writes_the_packaged_image_and_sends_nothing(line_env, tmp_path):
    out = tmp_path / "menu.png"
    assert main(["line", "setup-richmenu", "--write-image", str(out)]) == 0
    assert out.read_bytes() == line_cli.rich_menu_png()
    assert line_env.fake.requests == []


def test_rich_menu_taps_are_understood_as_the_same_actions(line_env):
    from tests.builders import make_line_postback_event

    line_env.post(make_line_postback_event(A_EMERGENCY, user_id="U-rm"))
    line_env.process()
    (send,) = line_env.fake.sends()
    assert any("0120" in t or "電話" in t for t in send.texts)  # the hotline block


def test_worker_once_processes_stored_events(line_env):
    from bot.app import WorkerProcess
    from bot.worker_cli import run_workers
    from tests.builders import make_line_text_event

    line_env.post(make_line_text_event("こんにちは", user_id="U-worker"))
    line_env.drive(run_workers(WorkerProcess(), inbox=True, outbox=True, once=True))
    assert len(line_env.fake.accepted) == 1
