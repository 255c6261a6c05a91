#!/usr/bin/env python
"""Render the LINE rich menu image (bot/channels/line/richmenu.png) with headless Chromium.

Each labelled tile is drawn exactly over its tap area from ``line_cli.rich_menu_definition()``,
so the picture and the buttons cannot drift apart. Needs Playwright (a dev dependency),
Debian's ``chromium`` and ``fonts-noto-cjk`` (without the font, Japanese renders as boxes).

    .venv/bin/python scripts/make-richmenu-image.py [--out PATH] [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.line.cli import HEIGHT, WIDTH, rich_menu_definition  # noqa: E402
from core.messages import A_DELETE, A_EMERGENCY, A_HANDOFF, A_MENU  # noqa: E402

MAX_BYTES = 1_000_000  # LINE refuses larger rich menu images
FONT = "Noto Sans CJK JP"

# why white on these: every background gives white text a contrast of at least 6:1
# (WCAG AA asks 4.5:1), and flat colours keep the PNG small.
ICON_STROKE = 'fill="none" stroke="#fff" stroke-width="26" stroke-linecap="round" stroke-linejoin="round"'
ICONS = {
    # magnifying glass
    "search": f'<circle cx="100" cy="100" r="62" {ICON_STROKE}/><path d="M146 146 L200 200" {ICON_STROKE} stroke-width="34"/>',
    # head and shoulders
    "person": '<circle cx="120" cy="78" r="52" fill="#fff"/><path d="M30 226 a90 90 0 0 1 180 0 z" fill="#fff"/>',
    # an exclamation mark in a triangle, drawn as shapes (no emoji, no font needed)
    "alert": (
        f'<path d="M120 22 L222 206 L18 206 Z" {ICON_STROKE}/>'
        '<rect x="107" y="76" width="26" height="66" rx="13" fill="#fff"/><circle cx="120" cy="166" r="14" fill="#fff"/>'
    ),
    # a bin with a lid
    "trash": (
        f'<path d="M40 62 H200 M94 62 V34 H146 V62" {ICON_STROKE}/>'
        f'<path d="M62 92 L74 214 H166 L178 92" {ICON_STROKE}/><path d="M104 112 V186 M136 112 V186" {ICON_STROKE} stroke-width="18"/>'
    ),
}

# action id -> (label lines, background, icon); two short lines so the type can be large
DESIGN = {
    A_MENU: (("答えを", "探す"), "#2b6e5f", "search"),  # calm green
    A_HANDOFF: (("人と", "話す"), "#2c5a94", "person"),  # calm blue
    A_EMERGENCY: (("緊急の", "とき"), "#b42318", "alert"),  # red with a white frame: it leads to hotlines
    A_DELETE: (("記録の", "削除"), "#4f5b63", "trash"),  # quiet grey
}


def richmenu_html() -> str:
    """A WIDTH×HEIGHT page with one absolutely placed tile per rich menu area."""
    tiles = []
    for area in rich_menu_definition()["areas"]:
        b, action = area["bounds"], area["action"]
        lines, colour, icon = DESIGN[action["data"]]
        assert "".join(lines) == action["label"], f"image text {lines} differs from the button label {action['label']}"
        frame = " emergency" if action["data"] == A_EMERGENCY else ""
        text = "<br>".join(html.escape(line) for line in lines)
        tiles.append(
            f'<div class="tile{frame}" style="left:{b["x"]}px;top:{b["y"]}px;width:{b["width"]}px;height:{b["height"]}px;background:{colour}">'
            f'<svg viewBox="0 0 240 240" width="230" height="230" aria-hidden="true">{ICONS[icon]}</svg>'
            f'<div class="label">{text}</div></div>'
        )
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><style>
  html, body {{ margin: 0; width: {WIDTH}px; height: {HEIGHT}px; overflow: hidden; background: #fff; }}
  .tile {{ position: absolute; box-sizing: border-box; display: flex; flex-direction: column;
          align-items: center; justify-content: center; gap: 36px;
          border-left: 3px solid #fff; border-right: 3px solid #fff; }}
  .tile:first-child {{ border-left: 0; }}
  .tile:last-child {{ border-right: 0; }}
  .tile.emergency::after {{ content: ""; position: absolute; inset: 22px; border: 14px solid #fff; border-radius: 36px; }}
  .label {{ font-family: "{FONT}", sans-serif; font-weight: 700; font-size: 150px; line-height: 1.12;
           color: #fff; text-align: center; letter-spacing: 0.02em; }}
</style></head><body>{"".join(tiles)}</body></html>"""


def render(out: Path, chromium: str) -> int:
    """Screenshots the page at scale 1 into ``out``; returns its size in bytes."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
            page.set_content(richmenu_html())
            page.evaluate("document.fonts.ready")
            # why check: a missing CJK font still renders, but as empty boxes nobody can read
            if not page.evaluate(f"document.fonts.check('150px \"{FONT}\"', '答えを探す')"):
                raise SystemExit(f"font {FONT!r} is not available: apt-get install -y fonts-noto-cjk")
            png = page.screenshot(clip={"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT}, type="png")
        finally:
            browser.close()
    if len(png) > MAX_BYTES:
        raise SystemExit(f"the image is {len(png)} bytes; LINE accepts at most {MAX_BYTES}")
    out.write_bytes(png)
    return len(png)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bot" / "channels" / "line" / "richmenu.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser binary (Debian's chromium)")
    args = parser.parse_args()
    size = render(args.out, args.chromium)
    print(f"{args.out}: {WIDTH}x{HEIGHT}, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
