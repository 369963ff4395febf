#!/usr/bin/env python3
"""Renders the digits of an MNIST-format test split as photo-like PNG pages, each set altered
the way other writers and scanners alter handwriting (issue 19: thick, thin, blurred,
low-resolution, slanted far, written small in a big box), to measure how `eval --image` reads
them. Development measurements only: never train on them.

    python3 scripts/render-altered.py IDX_DIR OUT_DIR [SEED]

Writes OUT_DIR/KIND/NNNN-L.png (digit NNNN of the split, label L) for every KIND:
  plain   the digit scaled bilinearly to 112 px on a page (the reference);
  thick   the pen widened (a 7x7 maximum filter at 112 px, about 1.5 source pixels);
  thin    the pen narrowed (a 5x5 minimum filter at 112 px, about 1 source pixel);
  blur    a soft scan (Gaussian blur, sigma 5 px at 112 px, about 1.2 source pixels);
  lowres  a coarse scanner (the digit averaged down to 10x10, then scaled up bilinearly);
  slant   a far slant (sheared by 0.45-0.6 of the height, right or left at random);
  small   written small in a big box (28-40 px of ink on a 320x320 page).
Each page is dark ink on light paper with a seeded paper and ink grey. Needs Pillow.
"""
import gzip
import os
import random
import sys

from PIL import Image, ImageFilter

KINDS = ["plain", "thick", "thin", "blur", "lowres", "slant", "small"]


def read(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            return (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
    raise SystemExit(f"missing {path}")


def alter(kind, im, rng):
    """The 28x28 white-on-black digit `im` altered as `kind`, as a white-on-black page."""
    big = im.resize((112, 112), Image.BILINEAR)
    if kind == "thick":
        big = big.filter(ImageFilter.MaxFilter(7))
    elif kind == "thin":
        big = big.filter(ImageFilter.MinFilter(5))
    elif kind == "blur":
        big = big.filter(ImageFilter.GaussianBlur(5))
    elif kind == "lowres":
        big = im.resize((10, 10), Image.BOX).resize((112, 112), Image.BILINEAR)
    elif kind == "slant":
        s = rng.uniform(0.45, 0.6) * rng.choice([-1, 1])
        # x_src = x + s * (y - 56) - 30 on a page 60 px wider: the top leans right for s > 0.
        big = big.transform((172, 112), Image.AFFINE, (1, s, -30 - 56 * s, 0, 1, 0),
                            Image.BILINEAR)
    elif kind == "small":
        size = rng.randint(28, 40)
        page = Image.new("L", (320, 320), 0)
        page.paste(im.resize((size, size), Image.BILINEAR),
                   (rng.randint(20, 300 - size), rng.randint(20, 300 - size)))
        return page
    page = Image.new("L", (big.width + 80, big.height + 80), 0)
    page.paste(big, (40, 40))
    return page


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit("usage: render-altered.py IDX_DIR OUT_DIR [SEED]")
    src, out = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    images = read(os.path.join(src, "t10k-images-idx3-ubyte"))[16:]
    labels = read(os.path.join(src, "t10k-labels-idx1-ubyte"))[8:]
    for kind in KINDS:
        os.makedirs(os.path.join(out, kind), exist_ok=True)
        for i, label in enumerate(labels):
            im = Image.frombytes("L", (28, 28), images[i * 784:(i + 1) * 784])
            page = alter(kind, im, rng)
            paper, ink = rng.uniform(200, 245), rng.uniform(15, 60)
            page = page.point(lambda v: int(paper - (paper - ink) * v / 255))
            page.save(os.path.join(out, kind, f"{i:04d}-{label}.png"))
    print(f"wrote {len(KINDS)} sets of {len(labels)} pages to {out}")


if __name__ == "__main__":
    main()
