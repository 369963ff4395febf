#!/usr/bin/env bash
# Issue 19 measurements of one model on altered real digits (never training data):
#   scripts/measure-altered.sh MODEL ALTERED_DIR [OUT_DIR]
# ALTERED_DIR from `scripts/render-altered.py ../shared/data/real-digits-dev DIR`.
# Prints, for every set (plain, thick, thin, blur, lowres, slant, small), the share of
# pictures whose top class is their label, the share flagged (a verdict naming no digit) and
# the share read right (the verdict names the label), then the mean over the altered sets.
set -euo pipefail
model=$1 altered=$2 out=${3:-$(mktemp -d)}
eval=${EVAL:-target/release/digits-eval}
mkdir -p "$out"
for dir in "$altered"/*/; do
    kind=$(basename "$dir")
    "$eval" --model "$model" --image "$dir"*.png --json "$out/$kind.json" >/dev/null
done
python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
names = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"]
rows = []
for f in sorted(os.listdir(out)):
    if not f.endswith(".json"):
        continue
    preds = json.load(open(os.path.join(out, f)))["predictions"]
    label = lambda p: names[int(os.path.basename(p["file"]).split("-")[1].split(".")[0])]
    top = sum(p["top"] == label(p) for p in preds) / len(preds)
    flagged = sum(p["class"] is None for p in preds) / len(preds)
    right = sum(p["class"] == label(p) for p in preds) / len(preds)
    rows.append((f[:-5], top, flagged, right, len(preds)))
print("set      top class right  flagged  verdict right  pictures")
for kind, top, flagged, right, n in rows:
    print(f"{kind:8s} {100*top:6.2f}%  {100*flagged:6.2f}%  {100*right:6.2f}%  {n}")
alt = [r for r in rows if r[0] != "plain"]
if alt:
    print(f"altered mean: top class right {100*sum(r[1] for r in alt)/len(alt):.2f}%, "
          f"flagged {100*sum(r[2] for r in alt)/len(alt):.2f}%, "
          f"verdict right {100*sum(r[3] for r in alt)/len(alt):.2f}%")
PY
