"""Draws the module's icon, static/description/icon.png (128 x 128).

A factory (saw-tooth roof) on the left, a two-way arrow (events up to Odoo,
planning back down) and a stack of records on the right. Run with Debian's
python3-pil: /usr/bin/python3 tools/packaging/make_icon.py
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 128
SCALE = 4  # draw large, then downsample for smooth edges
BG = (113, 75, 103)  # Odoo's purple
FG = (255, 255, 255)
ACCENT = (0, 160, 157)  # Odoo's teal


def s(*values):
    return [v * SCALE for v in values]


def draw() -> Image.Image:
    img = Image.new("RGBA", (SIZE * SCALE, SIZE * SCALE), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(s(0, 0, SIZE - 1, SIZE - 1), radius=22 * SCALE, fill=BG)
    # factory: body, saw-tooth roof, chimney
    d.rectangle(s(14, 62, 58, 100), fill=FG)
    for x in (14, 29, 44):
        d.polygon(s(x, 62, x + 15, 48, x + 15, 62), fill=FG)
    d.rectangle(s(48, 34, 54, 50), fill=FG)
    for x in (20, 33, 46):
        d.rectangle(s(x, 74, x + 6, 82), fill=BG)
    # two-way arrow between the floor and Odoo
    d.rectangle(s(64, 60, 80, 64), fill=ACCENT)
    d.polygon(s(80, 55, 88, 62, 80, 69), fill=ACCENT)
    d.rectangle(s(68, 76, 84, 80), fill=ACCENT)
    d.polygon(s(68, 71, 60, 78, 68, 85), fill=ACCENT)
    # records
    for i, y in enumerate((44, 62, 80)):
        d.rounded_rectangle(s(92, y, 116, y + 12), radius=2 * SCALE, fill=FG)
        d.rectangle(s(96, y + 5, 108 - 4 * i, y + 7), fill=BG)
    return img.resize((SIZE, SIZE), Image.LANCZOS)


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "odoo_addon/shopfloor_bridge/static/description/icon.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    draw().save(out, optimize=True)
    print(f"{out} ({out.stat().st_size} bytes)")
