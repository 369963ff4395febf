#!/usr/bin/env bash
# Issue 15 measurements of one model on the development sets (never training data):
#   scripts/measure-honest.sh MODEL LETTERS_DIR DEV_PAGES_DIR [OUT_DIR]
# LETTERS_DIR from scripts/render-letters.py, DEV_PAGES_DIR from
# `cargo run --release -p datagen --example render_pages -- ../shared/data/real-digits-dev DIR`.
# Prints: real-digit accuracy and calibration (IDX), Fashion-MNIST against real digits
# (--ood), and the verdicts on letter photos and real digit photos with a trade-off table.
# With HELD=DIR (held-back letters: `scripts/render-letters.py DIR 7 held`) and PAIRS=DIR
# (`scripts/render-pairs.py`), also the share of held-back letters flagged and of pairs
# read exactly.
set -euo pipefail
model=$1 letters=$2 pages=$3 out=${4:-$(mktemp -d)}
eval=${EVAL:-target/release/digits-eval}
dev=${DEV:-../shared/data/real-digits-dev}
fashion=${FASHION:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
"$eval" --model "$model" --data "idx:$dev" --samples 0 --worst 0 --json "$out/dev.json" >/dev/null
"$eval" --model "$model" --data "idx:$dev" --ood "idx:$fashion" --json "$out/fashion.json" >/dev/null
"$eval" --model "$model" --image "$letters"/*.png --json "$out/letters.json" >/dev/null
"$eval" --model "$model" --image "$pages"/*.png --json "$out/pages.json" >/dev/null
rm -f "$out/held.json" "$out/pairs.json"
if [ -n "${HELD:-}" ]; then
    "$eval" --model "$model" --image "$HELD"/*.png --json "$out/held.json" >/dev/null
fi
if [ -n "${PAIRS:-}" ]; then
    "$eval" --model "$model" --image "$PAIRS"/*.png --json "$out/pairs.json" >/dev/null
fi
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
dev = json.load(open(os.path.join(out, "dev.json")))
fa = json.load(open(os.path.join(out, "fashion.json")))["ood"]
let = json.load(open(os.path.join(out, "letters.json")))["predictions"]
pag = json.load(open(os.path.join(out, "pages.json")))["predictions"]
names = ["Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine"]
def tag(p):  # pages are NNNN-L.png, pairs NNNN-AB.png
    return os.path.basename(p["file"]).split("-")[1].split(".")[0]
def label(p):
    return int(tag(p))
def score(p):
    return -1.0 if p["verdict"].startswith("no digit") else p["probability"]
c = dev["calibration"]
print(f"real digits (IDX): accuracy {100*dev['accuracy']:.2f}%, ECE {100*c['ece']:.2f}%, MCE {100*c['mce']:.2f}%, NLL {c['nll']:.4f}, Brier {c['brier']:.4f}, T {c['temperature']:.3f}")
print(f"fashion (IDX) vs real digits: flagged {100*fa['flagged']:.2f}%, digits flagged {100*fa['digits_flagged']:.2f}%, AUROC {fa['auroc']:.4f}, FPR@95TPR {100*fa['fpr_at_95_tpr']:.2f}%")
acc = sum(1 for p in pag if p["top"] == names[label(p)]) / len(pag)
lf = sum(1 for p in let if p["class"] is None) / len(let)
pf = sum(1 for p in pag if p["class"] is None) / len(pag)
if os.path.exists(os.path.join(out, "held.json")):
    held = json.load(open(os.path.join(out, "held.json")))["predictions"]
    print(f"held-back letters flagged {100*sum(1 for p in held if p['class'] is None)/len(held):.2f}% ({len(held)})")
if os.path.exists(os.path.join(out, "pairs.json")):
    pairs = json.load(open(os.path.join(out, "pairs.json")))["predictions"]
    exact = sum(1 for p in pairs if str(p.get("number")) == tag(p))
    print(f"pairs read exactly {100*exact/len(pairs):.1f}% ({len(pairs)})")
print(f"at the model's floor: letters flagged {100*lf:.2f}% ({len(let)}), digit photos flagged {100*pf:.2f}% ({len(pag)}), digit photo accuracy (top) {100*acc:.2f}%")
# The energy alone, at thresholds that flag given shares of the digit photos.
es = sorted(p["energy"] for p in pag if not p["verdict"].startswith("no digit:") or "unlike" in p["verdict"])
if es:
    print("energy threshold  digit photos flagged  letters flagged  accuracy on kept photos")
    for q in [0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2]:
        t = es[int(q * len(es))]
        ok = lambda p: (not p["verdict"].startswith("no digit:") or "unlike" in p["verdict"]) and p["energy"] >= t
        kept = [p for p in pag if ok(p)]
        lf = sum(1 for p in let if not ok(p)) / len(let)
        a = sum(1 for p in kept if p["top"] == names[label(p)]) / max(1, len(kept))
        print(f"{t:8.3f}  {100*(1-len(kept)/len(pag)):6.2f}%  {100*lf:6.2f}%  {100*a:6.2f}%")
print("floor  letters flagged  digit photos flagged  accuracy on kept photos  fashion flagged  real IDX digits flagged")
trade = {}
for f in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]:
    l = sum(1 for p in let if score(p) < f) / len(let)
    kept = [p for p in pag if score(p) >= f]
    d = 1 - len(kept) / len(pag)
    a = sum(1 for p in kept if p["top"] == names[label(p)]) / max(1, len(kept))
    t = trade.get(f)
    fs = f"{100*t['flagged']:6.2f}%  {100*t['digits_flagged']:6.2f}%" if t else "-"
    print(f"{f:5.2f}  {100*l:6.2f}%  {100*d:6.2f}%  {100*a:6.2f}%  {fs}")
PY
