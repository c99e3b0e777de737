#!/usr/bin/env bash
# GPU benchmarks in one command, on a machine with an NVIDIA GPU: the CUDA build, the op-by-op parity tests
# against the CPU reference, packed decode attention bandwidth against the device's peak (bench_cuda_kv), and the
# end-to-end CUDA suite (prefill/decode tokens/s, perplexity) into results/gpu.db with its report.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
BUILD="${BENCH_BUILD_DIR:-$ROOT/build}"
[[ -x "$BUILD/tests/test_cuda" ]] || { echo "gpu-bench: the build has no CUDA backend (nvcc missing?)" >&2; exit 2; }
"$BUILD/tests/test_cuda"
"$BUILD/kernels/bench_cuda_kv" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
"$BUILD/bin/bench" run suites/gpu.json --db results/gpu.db
