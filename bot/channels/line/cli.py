"""``ristapo line setup-richmenu``: install the LINE rich menu (答えを探す / 人と話す / 緊急のとき / 記録の削除).

Each area is a postback carrying our short action id (m / h / x / d), so the inbox worker
treats a tap exactly like the same button in a message. The image is ``richmenu.png`` next to
this module: the four labels in large Japanese type over their tap areas, rendered by
``scripts/make-richmenu-image.py`` (rerun it whenever the areas or labels change). Pass
``--image`` to upload another one (2500×843 PNG or JPEG, ≤ 1 MB) instead.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from core.messages import A_DELETE, A_EMERGENCY, A_HANDOFF, A_MENU

WIDTH, HEIGHT = 2500, 843
IMAGE = Path(__file__).with_name("richmenu.png")
TILES = [
    # (label, action), left to right
    ("答えを探す", A_MENU),
    ("人と話す", A_HANDOFF),
    ("緊急のとき", A_EMERGENCY),
    ("記録の削除", A_DELETE),
]


def rich_menu_definition() -> dict:
    """The rich menu as Messaging API JSON: four equal areas, postbacks with our action ids."""
    tile = WIDTH // len(TILES)
    areas = []
    for i, (label, action) in enumerate(TILES):
        areas.append(
            {
                "bounds": {"x": i * tile, "y": 0, "width": tile if i < len(TILES) - 1 else WIDTH - i * tile, "height": HEIGHT},
                "action": {"type": "postback", "label": label, "data": action, "displayText": label},
            }
        )
    return {"size": {"width": WIDTH, "height": HEIGHT}, "selected": True, "name": "ristapo-main", "chatBarText": "メニュー", "areas": areas}


def rich_menu_png() -> bytes:
    """The packaged 2500×843 rich menu PNG, one labelled tile per area."""
    return IMAGE.read_bytes()


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
    p.add_argument("--image", help="another 2500x843 PNG/JPEG instead of the packaged one")
    p.add_argument("--write-image", metavar="PATH", help="only write the image to PATH (nothing is sent)")
    p.set_defaults(func=cmd_setup_richmenu)
