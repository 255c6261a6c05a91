"""``ristapo line setup-richmenu``: install the LINE rich menu (答えを探す / 人と話す / 緊急のとき / 記録の削除).

Each area is a postback carrying our short action id (m / h / x / d), so the inbox worker
treats a tap exactly like the same button in a message. The image is generated with the
standard library (a PNG with four coloured tiles and simple pictograms); pass ``--image`` to
upload a designed one (2500×843 PNG or JPEG, ≤ 1 MB) instead.
"""
from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import zlib
from pathlib import Path

from core.messages import A_DELETE, A_EMERGENCY, A_HANDOFF, A_MENU

WIDTH, HEIGHT = 2500, 843
TILES = [
    # (label, action, background RGB, pictogram)
    ("答えを探す", A_MENU, (0x2E, 0x7D, 0x6B), "search"),
    ("人と話す", A_HANDOFF, (0x2F, 0x5F, 0x9E), "person"),
    ("緊急のとき", A_EMERGENCY, (0xC0, 0x39, 0x2B), "alert"),
    ("記録の削除", A_DELETE, (0x5D, 0x5D, 0x5D), "trash"),
]


def rich_menu_definition() -> dict:
    """The rich menu as Messaging API JSON: four equal areas, postbacks with our action ids."""
    tile = WIDTH // len(TILES)
    areas = []
    for i, (label, action, _rgb, _icon) in enumerate(TILES):
        areas.append(
            {
                "bounds": {"x": i * tile, "y": 0, "width": tile if i < len(TILES) - 1 else WIDTH - i * tile, "height": HEIGHT},
                "action": {"type": "postback", "label": label, "data": action, "displayText": label},
            }
        )
    return {"size": {"width": WIDTH, "height": HEIGHT}, "selected": True, "name": "ristapo-main", "chatBarText": "メニュー", "areas": areas}


# ---------------------------------------------------------------------- a PNG with the stdlib


def _inside(icon: str, x: float, y: float) -> bool:
    """Is (x, y) — relative to the icon centre, in pixels — part of the pictogram?"""
    if icon == "search":  # a magnifying glass: a ring and a handle
        r2 = (x + 30) ** 2 + (y + 30) ** 2
        if 95**2 <= r2 <= 125**2:
            return True
        d = (x - y) / 1.4142
        along = (x + y) / 1.4142
        return abs(d) <= 22 and 78 <= along <= 200
    if icon == "person":  # head and shoulders
        if x * x + (y + 80) ** 2 <= 70**2:
            return True
        return y >= 20 and (x * x) / (150**2) + ((y - 170) ** 2) / (150**2) <= 1 and y <= 170
    if icon == "alert":  # an exclamation mark in a ring
        r2 = x * x + y * y
        if 150**2 <= r2 <= 180**2:
            return True
        return (abs(x) <= 22 and -110 <= y <= 40) or (x * x + (y - 90) ** 2 <= 26**2)
    if icon == "trash":  # a bin with a lid
        if -150 <= y <= -120 and abs(x) <= 140:
            return True
        if -175 <= y <= -150 and abs(x) <= 40:
            return True
        if -100 <= y <= 170 and abs(x) <= 110 - (y + 100) * 0.1:
            inner = -80 <= y <= 150 and any(abs(x - c) <= 12 for c in (-50, 0, 50))
            return not inner
    return False


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def rich_menu_png() -> bytes:
    """A 2500×843 PNG: one coloured tile per area with a white pictogram and a divider."""
    tile = WIDTH // len(TILES)
    base = bytearray()
    for i, (_l, _a, rgb, _icon) in enumerate(TILES):
        w = tile if i < len(TILES) - 1 else WIDTH - i * tile
        base += bytes(rgb) * w
    for i in range(1, len(TILES)):  # thin white dividers
        for x in range(i * tile - 2, i * tile + 2):
            base[x * 3 : x * 3 + 3] = b"\xff\xff\xff"
    rows = [bytearray(base) for _ in range(HEIGHT)]
    cy = HEIGHT // 2
    for i, (_l, _a, _rgb, icon) in enumerate(TILES):
        cx = i * tile + tile // 2
        for y in range(cy - 200, cy + 201):
            row = rows[y]
            for x in range(cx - 210, cx + 211):
                if _inside(icon, x - cx, y - cy):
                    row[x * 3 : x * 3 + 3] = b"\xff\xff\xff"
    return _png(WIDTH, HEIGHT, [bytes(r) for r in rows])


# ---------------------------------------------------------------------- install


async def setup_richmenu(settings, image: bytes, content_type: str = "image/png", *, timeout: float = 30.0) -> str:
    """Creates the rich menu, uploads its image and makes it the default; returns its id."""
    from linebot.v3.messaging import (
        AsyncApiClient,
        AsyncMessagingApi,
        AsyncMessagingApiBlob,
        Configuration,
        RichMenuRequest,
    )

    token = settings.line_channel_access_token
    async with AsyncApiClient(Configuration(host=settings.line_api_base.rstrip("/"), access_token=token)) as client, AsyncApiClient(
        Configuration(host=settings.line_data_api_base.rstrip("/"), access_token=token)
    ) as data_client:
        api, blob = AsyncMessagingApi(client), AsyncMessagingApiBlob(data_client)
        created = await api.create_rich_menu(RichMenuRequest.from_dict(rich_menu_definition()), _request_timeout=timeout)
        menu_id = created.rich_menu_id
        # why _headers: this SDK method ignores _content_type and would send the bytes as JSON
        await blob.set_rich_menu_image(menu_id, body=image, _headers={"Content-Type": content_type}, _request_timeout=timeout)
        await api.set_default_rich_menu(menu_id, _request_timeout=timeout)
        return menu_id


def cmd_setup_richmenu(args: argparse.Namespace) -> int:
    from core.settings import get_settings

    settings = get_settings()
    if args.image:
        path = Path(args.image)
        image = path.read_bytes()
        content_type = "image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
    else:
        image, content_type = rich_menu_png(), "image/png"
    if args.write_image:
        Path(args.write_image).write_bytes(image)
        print(f"image written to {args.write_image}")
        return 0
    if not (settings.line_channel_access_token and settings.line_channel_secret):
        print("LINE is off: set RISTAPO_LINE_CHANNEL_SECRET and RISTAPO_LINE_CHANNEL_ACCESS_TOKEN first", file=sys.stderr)
        return 2
    if len(image) > 1_000_000:
        print("the rich menu image must be 1 MB or less", file=sys.stderr)
        return 2
    try:
        menu_id = asyncio.run(setup_richmenu(settings, image, content_type))
    except Exception as exc:  # the SDK's message can include the response body; keep it short
        print(f"rich menu setup failed: {type(exc).__name__} {getattr(exc, 'status', '')}".strip(), file=sys.stderr)
        return 1
    print(f"rich menu {menu_id} installed as the default (答えを探す / 人と話す / 緊急のとき / 記録の削除)")
    return 0


def register(subparsers, parser) -> None:
    line = subparsers.add_parser("line", help="LINE channel tools").add_subparsers(dest="line_command", required=True)
    p = line.add_parser("setup-richmenu", help="create, upload and set the default rich menu")
    p.add_argument("--image", help="a designed 2500x843 PNG/JPEG instead of the generated one")
    p.add_argument("--write-image", metavar="PATH", help="only write the generated image to PATH (nothing is sent)")
    p.set_defaults(func=cmd_setup_richmenu)
