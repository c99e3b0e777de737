#!/usr/bin/env bash
# The GPU parity tests (tests/cuda: the CUDA session and every device KV cache against the CPU) on a machine without
# a GPU, over the CPU emulation of the CUDA wrappers (kernels/cuda/emulation/README.md), in its own build folder.
# It checks the backend's host code (bookkeeping, flushes, evictions, observations, rebuilds); the CUDA kernels
# themselves run only on a GPU (scripts/gpu-bench.sh). Needs what scripts/setup.sh installs and the default model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD="${BENCH_EMU_BUILD_DIR:-build-emu}"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBENCH_CUDA=OFF -DBENCH_CUDA_EMULATION=ON -DBENCH_BENCHMARKS=OFF
cmake --build "$BUILD" -j "$(nproc)" --target test_cuda
ctest --test-dir "$BUILD" -R '^Cuda' --output-on-failure
