#!/usr/bin/env bash
# Runs one fuzz target for a while at low priority and keeps every crashing / hanging input as a regression case.
#   tests/fuzz/run_fuzz.sh <gguf|safetensors|hf_config> <seconds> [build dir, default build-fuzz]
# Working corpus: tests/fuzz/corpus-work/<target>/ (git-ignored); seeds: tests/fuzz/seeds/<target>/;
# regressions: tests/data/fuzz-regressions/<target>/ (committed; tests/runtime/io_fuzz_regressions_test.cpp).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="$1"; seconds="$2"; build="${3:-$ROOT/build-fuzz}"
case "$target" in
  gguf) max_len=20000 ;;
  safetensors) max_len=4096 ;;
  hf_config) max_len=2048 ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
work="$ROOT/tests/fuzz/corpus-work"
mkdir -p "$work/$target" "$work/artifacts" "$ROOT/tests/data/fuzz-regressions/$target"
nice -n 10 "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" \
  "$work/$target" "$ROOT/tests/fuzz/seeds/$target"
rc=$?
for f in "$work/artifacts/$target-"*; do
  [[ -e "$f" ]] && cp -n "$f" "$ROOT/tests/data/fuzz-regressions/$target/"
done
exit $rc
