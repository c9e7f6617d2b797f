#!/usr/bin/env bash
# Does the server add anything at concurrency 1? Streams the random workload (128 words in,
# 64 tokens out) through `nagare serve` one request at a time and compares its decode speed
# (1 / TPOT p50) with `nagare bench-model`'s tg64 at the same context depth, interleaved, REPS
# times per model.
#   bench/serve_c1_vs_bench_model.sh            (env: NAGARE, MODELS, THREADS, REPS)
# The prompts are sent once with a 1-token answer first, so every measured request decodes at
# the same depth whatever the prefix cache holds.
set -euo pipefail
cd "$(dirname "$0")/.."
nagare=${NAGARE:-build/nagare}
models=${MODELS:-models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf}
threads=${THREADS:-2}
reps=${REPS:-3}
port=8313
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for model in $models; do
  name=$(basename "$model" .gguf)
  "$nagare" serve -m "$model" --port $port -t "$threads" --ctx-size 4096 --cache-size 0 --no-audit >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.3; done
  run() { "$nagare" bench --url "http://127.0.0.1:$port" --model "$name" --workload random --input-len 128 \
            --ignore-eos --concurrency 1 --num-requests 8 --warmup 0 -q --seed 7 "$@" >/dev/null 2>&1; }
  run --output-len 1 --out "$out/warm.json"
  depth=$(python3 -c "import json,sys; l=json.load(open(sys.argv[1]))['levels'][0]; print(round(l['prompt_tokens']/l['requests']['succeeded']))" "$out/warm.json")
  for r in $(seq 1 "$reps"); do
    run --output-len 64 --out "$out/s.json"
    served=$(python3 -c "import json,sys; l=json.load(open(sys.argv[1]))['levels'][0]; print(1000/l['tpot_ms']['p50'])" "$out/s.json")
    tg=$("$nagare" bench-model -m "$model" -p 0 -n 64 -d "$depth" -b '' -r 3 -t "$threads" -o json --no-roofline 2>/dev/null |
         python3 -c "import json,sys; print(json.load(sys.stdin)[0]['avg_ts'])")
    python3 -c "import sys; s,t=map(float,sys.argv[1:]); print(f'$name depth $depth: server decode {s:.1f} t/s, bench-model tg64 @ d$depth {t:.1f} t/s, ratio {s/t:.2f}')" "$served" "$tg"
  done
  kill $pid; wait $pid 2>/dev/null || true
done
