"""Where the fetch tests find the bench binary and the data and models the other tests use."""
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench_binary():
    build = os.environ.get("BENCH_BUILD_DIR", os.path.join(ROOT, "build"))
    path = os.path.join(build, "bin", "bench")
    if not os.path.exists(path):
        pytest.skip(f"bench binary not built at {path} (set BENCH_BUILD_DIR)")
    return path


def cache_home():
    return os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))


def data_root():
    return os.environ.get("BENCH_DATA_ROOT") or os.path.join(cache_home(), "benchpress", "data")


def default_model():
    return os.environ.get("BENCH_MODEL_PATH") or os.path.join(cache_home(), "benchpress", "models",
                                                              "SmolLM2-135M-Instruct.Q4_1.gguf")
