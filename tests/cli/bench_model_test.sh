#!/usr/bin/env bash
# `nagare bench-model` beyond its timings (which no test judges): -d runs the tests at a context
# depth and says so in llama-bench's JSON fields; the roofline line counts the weights a token
# reads (close to the file size for a model whose bytes are nearly all matrices) and a positive
# measured bandwidth, and at a depth adds the KV cache a generated token reads (SmolLM2: 30
# layers x 3 KV heads x (64 + 64) halves per key, at the run's middle position), counted in the
# cache's type with --cache-type-k/-v, which refuse a type llama.cpp does not name. Usage: bench_model_test.sh NAGARE_BINARY SOURCE_DIR
set -u
nagare=$1
model=$2/models/SmolLM2-135M-Instruct.Q4_1.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$nagare" bench-model -m "$model" -p 8 -n 2 -d 200 -b 2 --batch-steps 2 -r 1 -t 2 -o json >"$tmp/out" 2>"$tmp/err" || {
  echo "FAIL: bench-model exited non-zero: $(cat "$tmp/err")" >&2
  exit 1
}
python3 - "$tmp/out" "$tmp/err" "$(stat -Lc %s "$model")" <<'PY'
import json, re, sys
records = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
file_mib = int(sys.argv[3]) / 2**20
fails = []
tests = [r["test"] for r in records]
if tests != ["pp8 @ d200", "tg2 @ d200", "decode b2 @ d200"]:
    fails.append(f"tests {tests}")
if any(r["n_depth"] != 200 for r in records):
    fails.append("n_depth is not 200 in every record")
if any(not r["avg_ts"] > 0 for r in records):
    fails.append("a test without a positive rate")
m = re.search(r"Generation roofline: ([0-9.]+) MiB of weights per token / ([0-9.]+) GB/s", err)
if not m:
    fails.append("no roofline line on stderr: " + err)
else:
    weights, bandwidth = float(m.group(1)), float(m.group(2))
    if not 0.9 * file_mib <= weights <= 1.05 * file_mib:
        fails.append(f"weights per token {weights} MiB, file {file_mib:.1f} MiB")
    if not bandwidth > 0:
        fails.append(f"bandwidth {bandwidth}")
    k = re.search(r"at depth 200, \+ ([0-9.]+) MiB of KV cache per token = at most ([0-9.]+) t/s", err)
    want_kv = 30 * 3 * (64 + 64) * 2 * 201 / 2**20
    if not k:
        fails.append("no KV cache term at depth on stderr: " + err)
    elif abs(float(k.group(1)) - want_kv) > 0.051:
        fails.append(f"KV per token {k.group(1)} MiB, want {want_kv:.2f}")
    elif abs(float(k.group(2)) - bandwidth * 1e9 / ((weights + float(k.group(1))) * 2**20)) > 0.02 * float(k.group(2)):
        fails.append(f"the depth roofline {k.group(2)} t/s is not bandwidth / (weights + KV)")
for f in fails:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if fails else 0)
PY
status=$?

# Quantized KV cache types: q8_0 keys (6 blocks of 32 per key: 204 bytes) and q4_0 values (108
# bytes) per layer at the middle position; a type that is not llama.cpp's is refused by name.
"$nagare" bench-model -m "$model" -p 0 -n 2 -d 200 -r 1 -t 2 --cache-type-k q8_0 --cache-type-v q4_0 -o json \
  >"$tmp/q.out" 2>"$tmp/q.err" || { echo "FAIL: bench-model with q8_0/q4_0 exited non-zero: $(cat "$tmp/q.err")" >&2; exit 1; }
want=$(python3 -c 'print(f"{30 * (204 + 108) * 201 / 2**20:.1f}")')
grep -q "at depth 200, + $want MiB of KV cache per token" "$tmp/q.err" || {
  echo "FAIL: q8_0/q4_0 KV per token is not $want MiB: $(cat "$tmp/q.err")" >&2
  status=1
}
if "$nagare" bench-model -m "$model" -p 8 -n 0 -r 1 --cache-type-k q5_0 >/dev/null 2>"$tmp/bad.err"; then
  echo "FAIL: --cache-type-k q5_0 accepted" >&2
  status=1
elif ! grep -q "f16, q8_0 or q4_0" "$tmp/bad.err"; then
  echo "FAIL: --cache-type-k q5_0 refused without naming the choices: $(cat "$tmp/bad.err")" >&2
  status=1
fi

# An encoder: its prompt tests only (none of the generation tests asked for by default), and
# refusals for a depth and for a prompt longer than its context.
enc="$2/models/tiny/tiny-bert.gguf"
"$nagare" bench-model -m "$enc" -p 16,32 -r 1 -t 2 -o json >"$tmp/e.out" 2>"$tmp/e.err" || {
  echo "FAIL: bench-model on an encoder exited non-zero: $(cat "$tmp/e.err")" >&2
  exit 1
}
python3 - "$tmp/e.out" <<'PY' || status=1
import json, sys
tests = [r["test"] for r in json.load(open(sys.argv[1]))]
if tests != ["pp16", "pp32"]:
    sys.exit(f"FAIL: an encoder's tests are {tests}, not pp16 and pp32")
PY
for args in "-p 16 -d 8" "-p 4096"; do
  # shellcheck disable=SC2086
  if "$nagare" bench-model -m "$enc" $args -r 1 >/dev/null 2>"$tmp/e.bad"; then
    echo "FAIL: an encoder accepted bench-model $args" >&2
    status=1
  elif ! grep -qE "holds no context|longer than the encoder's context" "$tmp/e.bad"; then
    echo "FAIL: bench-model $args on an encoder refused without the reason: $(cat "$tmp/e.bad")" >&2
    status=1
  fi
done
exit $status
