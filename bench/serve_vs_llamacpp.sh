#!/usr/bin/env bash
# Serving benchmark: nagare serve vs llama.cpp's server (llama-cpp-python[server] from PyPI),
# same model, threads and context, one server at a time on loopback, measured by `nagare bench`.
#   bench/serve_vs_llamacpp.sh [quick]   -> results in bench/results/, summary on stdout
# Workloads: random prompts (128 words in, 64 tokens out, exact lengths) at concurrency
# 1,4,16,32; the extraction workloads of ../shared/workloads at 1,5,10,15,20 (`quick` caps their
# answers at 128 tokens); a shared-prefix workload (1,500-word prefix) with nagare's prefix cache
# on and off. nagare runs with its response cache and audit log off (--cache-size 0 --no-audit):
# the peer has neither, and repeated prompts must cost the engine each time.
# llama-cpp-python's server runs one request at a time and by default aborts a running stream
# when the next request arrives (interrupt_requests); it is started with that off so that every
# request completes, as it would behind a real client.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${1:-}
threads=${THREADS:-2}
ctx=${CTX:-4096}
out=bench/results
mkdir -p "$out"
venv=${PEER_VENV:-bench/.venv}  # an existing venv with llama-cpp-python[server] may be named
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import llama_cpp.server.app" 2>/dev/null ||
  "$venv/bin/pip" install -q 'llama-cpp-python[server]'
nagare=${NAGARE:-build/nagare}
models=${MODELS:-models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf}
port=8311

wait_up() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && return 0
    sleep 0.5
  done
  echo "server did not start" >&2
  return 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

bench() {  # label file args...
  local label=$1 file=$2
  shift 2
  "$nagare" bench --url "http://127.0.0.1:$port" --label "$label" --out "$out/$file.json" --warmup 2 -q "$@" |
    tee "$out/$file.txt"
}

for model in $models; do
  name=$(basename "$model" .gguf)
  random_args=(--workload random --input-len 128 --output-len 64 --ignore-eos --concurrency 1,4,16,32 --num-requests 32)
  for server in nagare llamacpp; do
    if [ "$server" = nagare ]; then
      "$nagare" serve -m "$model" --port $port --threads "$threads" --ctx-size "$ctx" --max-running 32 --cache-size 0 --no-audit >/dev/null 2>&1 &
    else
      "$venv/bin/python" -m llama_cpp.server --model "$model" --port $port --n_threads "$threads" \
        --n_threads_batch "$threads" --n_ctx "$ctx" --interrupt_requests False >/dev/null 2>&1 &
    fi
    pid=$!
    wait_up
    bench "$server" "$name-random-$server" "${random_args[@]}"
    for w in extraction_en extraction_ja; do
      bench "$server" "$name-$w-$server" --workload ../shared/workloads/$w.json --num-requests 20 \
        --concurrency 1,5,10,15,20 ${quick:+--output-len 128}
    done
    stop $pid
  done
  for w in random extraction_en extraction_ja; do
    "$nagare" bench --compare "$out/$name-$w-nagare.json" "$out/$name-$w-llamacpp.json" | tee "$out/$name-$w-compare.txt"
  done
  "$nagare" bench --chart "$out/$name-random.svg" "$out/$name-random-nagare.json" "$out/$name-random-llamacpp.json" >/dev/null

  for cache in on off; do
    flag=(); [ $cache = off ] && flag=(--no-prefix-cache)
    "$nagare" serve -m "$model" --port $port --threads "$threads" --ctx-size "$ctx" --cache-size 0 --no-audit "${flag[@]}" >/dev/null 2>&1 &
    pid=$!
    wait_up
    bench "prefix-cache-$cache" "$name-shared-prefix-$cache" --workload shared-prefix --prefix-len 1500 \
      --input-len 16 --output-len 16 --ignore-eos --concurrency 1 --num-requests 8
    stop $pid
  done
  "$nagare" bench --compare "$out/$name-shared-prefix-on.json" "$out/$name-shared-prefix-off.json" | tee "$out/$name-shared-prefix-compare.txt"
done
