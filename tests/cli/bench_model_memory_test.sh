#!/usr/bin/env bash
# Issue #3's memory bound, checked on both test models: after `nagare bench-model` has loaded a
# model (weights repacked, KV cache allocated but not yet written, so not resident), resident
# memory is at most the model file + 64 MiB. Fails when the file's pages stay mapped beside the
# packed copy, or when the KV cache is zero-filled up front.
# Usage: bench_model_memory_test.sh NAGARE_BINARY SOURCE_DIR
set -u
nagare=$1
src=$2
failures=0
for model in "$src/models/SmolLM2-135M-Instruct.Q4_1.gguf" "$src/models/gemma-3-270m-q4_k_m.gguf"; do
  line=$("$nagare" bench-model -m "$model" -p 16 -n 0 -b '' -r 1 -t 2 --no-roofline 2>/dev/null | grep '^Memory after load')
  # "Memory after load: resident R MiB = model file F + other O MiB (KV cache of K MiB: ...)"
  other=$(sed -nE 's/.* other (-?[0-9.]+) MiB .*/\1/p' <<<"$line")
  if [ -z "$other" ]; then
    echo "FAIL: $model: no memory line in bench-model output" >&2
    failures=$((failures + 1))
  elif awk -v o="$other" 'BEGIN { exit !(o > 64) }'; then
    echo "FAIL: $model: $line (other above 64 MiB)" >&2
    failures=$((failures + 1))
  else
    echo "ok: $(basename "$model"): $line"
  fi
done
exit $((failures > 0))
