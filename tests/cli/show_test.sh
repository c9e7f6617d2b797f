#!/usr/bin/env bash
# Shell-level test of `nagare show`: a broken file gives exit code 1 and one line
# "error: <path>: <problem>" on stderr (nothing on stdout); the test models show the expected
# summary. Usage: show_test.sh NAGARE_BINARY SOURCE_DIR
set -u
nagare=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_error FILE SUBSTRING: exit code 1, stdout empty, stderr one line with the prefix.
expect_error() {
  local file=$1 want=$2
  "$nagare" show "$file" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "show $file: exit code $rc, want 1"
  [ ! -s "$tmp/out" ] || fail "show $file: stdout not empty: $(head -c 200 "$tmp/out")"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "show $file: stderr is not one line: $(cat "$tmp/err")"
  grep -qF -- "error: $file: $want" "$tmp/err" || fail "show $file: stderr '$(cat "$tmp/err")' lacks 'error: $file: $want'"
}

# expect_line OUTPUT_FILE REGEX: some line of the output matches.
expect_line() {
  grep -qE -- "$2" "$1" || fail "$(basename "$1"): no line matches '$2'"
}

printf 'this is not a model, just some text\n' >"$tmp/text.gguf"
expect_error "$tmp/text.gguf" "invalid GGUF file: bad magic"
: >"$tmp/empty.gguf"
expect_error "$tmp/empty.gguf" "invalid GGUF file: too small (0 bytes"
printf 'GGUF\001\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000' >"$tmp/v1.gguf"
expect_error "$tmp/v1.gguf" "invalid GGUF file: unsupported GGUF version 1"
expect_error "$tmp/missing.gguf" "cannot open: No such file or directory"
mkdir "$tmp/dir.gguf"
expect_error "$tmp/dir.gguf" "is a directory"

"$nagare" >/dev/null 2>&1 && fail "nagare without a subcommand exits 0"
"$nagare" show >/dev/null 2>&1 && fail "nagare show without a model exits 0"

smol=$src/models/SmolLM2-135M-Instruct.Q4_1.gguf
gemma=$src/models/gemma-3-270m-q4_k_m.gguf
if [ -f "$smol" ]; then
  head -c 100000 "$smol" >"$tmp/smol-truncated.gguf"
  expect_error "$tmp/smol-truncated.gguf" "invalid GGUF file: truncated"
  # Cut inside the tensor data: the header parses, the last tensor does not fit.
  head -c 90000000 "$smol" >"$tmp/smol-cut.gguf"
  expect_error "$tmp/smol-cut.gguf" "invalid GGUF file: tensor 'blk.6.ffn_down.weight' data (offset 87710976, 552960 bytes) extends past the end of the file (the file has 90000000 bytes)"

  "$nagare" show "$smol" >"$tmp/smol.txt" 2>"$tmp/smol.err" || fail "show $smol failed: $(cat "$tmp/smol.err")"
  expect_line "$tmp/smol.txt" '^    architecture +llama$'
  expect_line "$tmp/smol.txt" '^    parameters +134\.5M$'
  expect_line "$tmp/smol.txt" '^    context length +8192$'
  expect_line "$tmp/smol.txt" '^    embedding length +576$'
  expect_line "$tmp/smol.txt" '^    layers +30$'
  expect_line "$tmp/smol.txt" '^    attention heads +9 \(kv heads: 3\)$'
  expect_line "$tmp/smol.txt" '^    quantization +Q4_1$'
  expect_line "$tmp/smol.txt" '^    Q4_1 +210 tensors'
  expect_line "$tmp/smol.txt" '^    Q8_0 +1 tensor '
  expect_line "$tmp/smol.txt" '^    F32 +61 tensors'
  expect_line "$tmp/smol.txt" '^    model +gpt2 \(pre-tokenizer: smollm\)$'
  expect_line "$tmp/smol.txt" '^    vocabulary size +49152$'
  expect_line "$tmp/smol.txt" '^    bos token +1 "<\|im_start\|>"$'
  expect_line "$tmp/smol.txt" '^    eos token +2 "<\|im_end\|>"$'
  expect_line "$tmp/smol.txt" '^    \{% for message in messages %\}'
  [ -s "$tmp/smol.err" ] && fail "show $smol wrote to stderr: $(cat "$tmp/smol.err")"

  "$nagare" show --verbose "$smol" >"$tmp/smol-v.txt" || fail "show --verbose failed"
  expect_line "$tmp/smol-v.txt" '^    tokenizer\.ggml\.tokens +array +\[string x 49152\] "<\|endoftext\|>", '
  expect_line "$tmp/smol-v.txt" '^    llama\.rope\.freq_base +f32 +100000$'
  expect_line "$tmp/smol-v.txt" '^    token_embd\.weight +Q8_0 +\[576, 49152\] +28\.7 MiB +at 1785664$'
  [ "$(grep -c '^    blk\.' "$tmp/smol-v.txt")" -eq 270 ] || fail "show --verbose does not list 270 blk.* tensors"

  "$nagare" show --template "$smol" >"$tmp/smol.tmpl" || fail "show --template failed"
  head -c 27 "$tmp/smol.tmpl" | grep -qF '{% for message in messages' || fail "show --template: $(head -c 100 "$tmp/smol.tmpl")"
else
  echo "note: $smol missing; model checks skipped" >&2
fi

if [ -f "$gemma" ]; then
  "$nagare" show "$gemma" >"$tmp/gemma.txt" 2>&1 || fail "show $gemma failed: $(cat "$tmp/gemma.txt")"
  expect_line "$tmp/gemma.txt" '^    architecture +gemma3$'
  expect_line "$tmp/gemma.txt" '^    parameters +268\.1M$'
  expect_line "$tmp/gemma.txt" '^    attention heads +4 \(kv heads: 1\)$'
  expect_line "$tmp/gemma.txt" '^    quantization +Q4_K_M$'
  expect_line "$tmp/gemma.txt" '^    Q4_K +27 tensors'
  expect_line "$tmp/gemma.txt" '^    Q6_K +9 tensors'
  expect_line "$tmp/gemma.txt" '^    Q5_0 +81 tensors'
  expect_line "$tmp/gemma.txt" '^    vocabulary size +262144$'
  expect_line "$tmp/gemma.txt" '^    bos token +2 "<bos>"$'
  expect_line "$tmp/gemma.txt" '^    eos token +1 "<eos>"$'
  expect_line "$tmp/gemma.txt" '^  Chat template$'
  expect_line "$tmp/gemma.txt" '^    \(none\)$'
  [ "$("$nagare" show --template "$gemma" | wc -c)" -eq 0 ] || fail "show --template of a model without one prints something"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all show checks passed"
