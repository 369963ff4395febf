#!/usr/bin/env python3
"""Renders letters that look like no digit as photo-like PNG pages, for measuring how often
`eval --image` says "unsure" or "no digit" on things it never saw (issue 15). Never train on
them.

    python3 scripts/render-letters.py OUT_DIR [SEED] [held]

With `held`, the letters come from eight other fonts (URW Bookman, Nimbus Sans and Roman,
URW Gothic Demi, DejaVu Sans Condensed, Liberation Sans Narrow, C059): a held-back set that
no choice was tuned on.

Needs Pillow (`pip install pillow`) and Debian's fonts-comic-neue, fonts-urw-base35,
fonts-dejavu-core and fonts-liberation. Each page: 200x200, dark ink on light paper with a
mild lighting gradient and sensor noise, the letter at a random height (60-150 px), position
and small rotation. Writes OUT_DIR/<font>-<letter>-<n>.png (capitals as `A`, small letters as
`a_`).
"""
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

LETTERS = list("ACEFHKMNPRUVWXY") + list("acefhkmnrtuvwxy")
FONTS = [
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Italic.otf",
    "/usr/share/fonts/opentype/comic-neue/ComicNeue-Light.otf",
    "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Italic.ttf",
]
HELD_FONTS = [
    "/usr/share/fonts/opentype/urw-base35/URWBookman-LightItalic.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Italic.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/URWGothic-DemiOblique.otf",
    "/usr/share/fonts/opentype/urw-base35/C059-Italic.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Italic.ttf",
]
PAGE = 200


def page(letter, font_path, rng):
    size = rng.randint(60, 150)
    font = ImageFont.truetype(font_path, size)
    glyph = Image.new("L", (PAGE * 2, PAGE * 2), 0)
    ImageDraw.Draw(glyph).text((PAGE // 2, PAGE // 2), letter, fill=255, font=font)
    glyph = glyph.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)
    box = glyph.getbbox()
    glyph = glyph.crop(box)
    # Fit the ink into 60-150 px on its long side (small letters stay smaller).
    w, h = glyph.size
    scale = min(1.0, 170 / max(w, h))
    glyph = glyph.resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.BILINEAR)
    w, h = glyph.size
    x = rng.randint(5, max(5, PAGE - w - 5))
    y = rng.randint(5, max(5, PAGE - h - 5))
    paper = rng.uniform(200, 245)
    ink = rng.uniform(10, 70)
    gx, gy = rng.uniform(-25, 25), rng.uniform(-25, 25)
    out = Image.new("L", (PAGE, PAGE))
    px = out.load()
    g = glyph.load()
    for j in range(PAGE):
        for i in range(PAGE):
            base = paper + gx * (i / PAGE - 0.5) + gy * (j / PAGE - 0.5)
            a = 0.0
            if x <= i < x + w and y <= j < y + h:
                a = g[i - x, j - y] / 255.0
            v = base * (1 - a) + ink * a + rng.gauss(0, 3)
            px[i, j] = max(0, min(255, int(v)))
    return out.filter(ImageFilter.GaussianBlur(0.6))


def main():
    out_dir = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    fonts = HELD_FONTS if len(sys.argv) > 3 and sys.argv[3] == "held" else FONTS
    rng = random.Random(seed)
    os.makedirs(out_dir, exist_ok=True)
    n = 0
    for font_path in fonts:
        name = os.path.splitext(os.path.basename(font_path))[0]
        for letter in LETTERS:
            for k in range(2):
                tag = letter if letter.isupper() else letter + "_"
                page(letter, font_path, rng).save(os.path.join(out_dir, f"{name}-{tag}-{k}.png"))
                n += 1
    print(f"wrote {n} pages to {out_dir}")


if __name__ == "__main__":
    main()
