#!/usr/bin/env python3
"""Renders pairs of digits of an MNIST-format test split side by side, as photo-like PNG pages
(dark ink on light paper, each digit scaled bilinearly to 60-110 px, a gap of 5-40 px, a small
vertical offset), to measure how often `eval --image` reads both digits in order (issue 15).
Development measurements only: never train on them.

    python3 scripts/render-pairs.py IDX_DIR OUT_DIR [COUNT] [SEED]

Writes OUT_DIR/NNNN-AB.png (pair NNNN, labels A then B). Needs Pillow.
"""
import gzip
import os
import random
import sys

from PIL import Image


def read(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            return (gzip.open if p.endswith(".gz") else open)(p, "rb").read()
    raise SystemExit(f"missing {path}")


def main():
    src, out = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    images = read(os.path.join(src, "t10k-images-idx3-ubyte"))[16:]
    labels = read(os.path.join(src, "t10k-labels-idx1-ubyte"))[8:]
    n = len(labels)
    os.makedirs(out, exist_ok=True)
    for k in range(count):
        a, b = rng.randrange(n), rng.randrange(n)
        size = rng.randint(60, 110)
        gap = rng.randint(5, 40)
        digits = []
        for i in (a, b):
            im = Image.frombytes("L", (28, 28), images[i * 784:(i + 1) * 784])
            digits.append(im.resize((size, size), Image.BILINEAR))
        w, h = 2 * size + gap + 60, size + 60
        page = Image.new("L", (w, h), 0)
        dy = rng.randint(-size // 8, size // 8)
        page.paste(digits[0], (30, 30))
        page.paste(digits[1], (30 + size + gap, 30 + dy))
        paper, ink = rng.uniform(200, 245), rng.uniform(15, 60)
        page = page.point(lambda v: int(paper - (paper - ink) * v / 255))
        page.save(os.path.join(out, f"{k:04d}-{labels[a]}{labels[b]}.png"))
    print(f"wrote {count} pages to {out}")


if __name__ == "__main__":
    main()
