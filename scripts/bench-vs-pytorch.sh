#!/usr/bin/env bash
# Side-by-side timing of digits and PyTorch on Fashion-MNIST, in alternation (A B A B ...),
# for the seed and LeNet-style networks with 2 threads and 1. Prints medians and ratios.
#
#   TORCH_PYTHON=~/torch-venv/bin/python scripts/bench-vs-pytorch.sh [RUNS] [EPOCHS]
#
# Needs: a Python with torch (TORCH_PYTHON), the PyTorch reference script (TORCH_BENCH,
# default ../shared/bench/torch_bench.py) and Fashion-MNIST in /usr/share/datasets/fashion-mnist
# (apt-get install -y dataset-fashion-mnist). Not part of CI: it takes minutes and needs torch.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${TORCH_PYTHON:?set TORCH_PYTHON to a python with torch installed}"
TORCH_BENCH=${TORCH_BENCH:-../shared/bench/torch_bench.py}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
RUNS=${1:-3}
EPOCHS=${2:-1}
NETS=${NETS:-"seed lenet"}
THREADS=${THREADS:-"2 1"}

cargo build --release -q -p train -p eval
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for net in $NETS; do
  for t in $THREADS; do
    for r in $(seq "$RUNS"); do
      ./target/release/digits-train --data "idx:$DATA" --classes fashion --arch "$net" --epochs "$EPOCHS" \
        --schedule constant --threads "$t" --seed "$r" --out "$out/model-$net.json" \
        --json "$out/ours-$net-$t-$r.json" > /dev/null
      ./target/release/digits-eval --model "$out/model-$net.json" --data "idx:$DATA" --classes fashion \
        --threads "$t" --samples 0 --worst 0 --bench --json "$out/ours-eval-$net-$t-$r.json" > /dev/null
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$TORCH_PYTHON" "$TORCH_BENCH" --net "$net" \
        --threads "$t" --epochs "$EPOCHS" 2> /dev/null > "$out/torch-$net-$t-$r.json"
      echo "done: $net, $t threads, run $r" >&2
    done
  done
done

"$TORCH_PYTHON" - "$out" "$NETS" "$THREADS" "$RUNS" <<'PY'
import json, statistics, sys
out, nets, threads, runs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4])
def load(p):
    # Ours write one JSON document; the PyTorch script prints one JSON line last.
    with open(p) as f:
        text = f.read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return json.loads(text.splitlines()[-1])
print(f"{'net':6} {'thr':>3} | {'ours s':>8} {'torch s':>8} {'speed-up':>8} | {'ours img/s':>10} {'torch img/s':>11} | {'ours us':>7} {'torch us':>8} | {'ours acc':>8} {'torch acc':>9}")
for net in nets:
    for t in threads:
        ours = [load(f"{out}/ours-{net}-{t}-{r}.json") for r in range(1, runs + 1)]
        oev = [load(f"{out}/ours-eval-{net}-{t}-{r}.json") for r in range(1, runs + 1)]
        torch = [load(f"{out}/torch-{net}-{t}-{r}.json") for r in range(1, runs + 1)]
        o_s = statistics.median(statistics.median(o["epoch_seconds"]) for o in ours)
        t_s = statistics.median(x["epoch_median_s"] for x in torch)
        # Ratio pair by pair (run r of ours against run r of torch), then the median.
        ratios = [x["epoch_median_s"] / statistics.median(o["epoch_seconds"]) for o, x in zip(ours, torch)]
        ratio = statistics.median(ratios)
        o_i = statistics.median(e["infer_images_per_second"] for e in oev)
        t_i = statistics.median(x["infer_img_s_median"] for x in torch)
        o_l = statistics.median(e["latency_us"] for e in oev)
        t_l = statistics.median(x["latency_us_median"] for x in torch)
        o_a = statistics.median(o["accuracy"] for o in ours)
        t_a = statistics.median(x["acc"][-1] for x in torch)
        print(f"{net:6} {t:>3} | {o_s:8.3f} {t_s:8.3f} {ratio:7.2f}x | {o_i:10.0f} {t_i:11.0f} | {o_l:7.1f} {t_l:8.1f} | {o_a:8.4f} {t_a:9.4f}")
        pairs = " ".join("%.2fx" % r for r in ratios)
        o_runs = " ".join("%.2f" % statistics.median(o["epoch_seconds"]) for o in ours)
        t_runs = " ".join("%.2f" % x["epoch_median_s"] for x in torch)
        print(f"{'':10} | speed-up pair by pair: {pairs}; epochs: ours {o_runs} s, PyTorch {t_runs} s")
PY
