"""`bench convert` output read back by llama.cpp's own Python reader (the `gguf` package): tensor types, metadata
kept, and every tensor equal to gguf's dequantization of the original file in the original (llama.cpp) row order."""
import os
import subprocess

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench_binary():
    env = os.environ.get("BENCH_BINARY")
    if env:
        assert os.path.exists(env), f"BENCH_BINARY={env} does not exist (build the `bench` target)"
        return env
    build = os.environ.get("BENCH_BUILD_DIR", os.path.join(ROOT, "build"))
    path = os.path.join(build, "bin", "bench")
    if not os.path.exists(path):
        pytest.skip(f"bench binary not built at {path} (set BENCH_BINARY or BENCH_BUILD_DIR)")
    return path


def default_model():
    p = os.environ.get("BENCH_MODEL_PATH")
    if p:
        return p
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    p = os.path.join(cache, "benchpress", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert os.path.exists(p), f"default model not found at {p} (run scripts/setup.sh or set BENCH_MODEL_PATH)"
    return p


def field_value(f):
    """A metadata field's value as plain Python (scalars, strings, lists)."""
    if f.types and f.types[0] == gguf.GGUFValueType.ARRAY:
        if f.types[-1] == gguf.GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8", "replace") for i in f.data]
        return [f.parts[i].tolist() for i in f.data]
    if f.types and f.types[0] == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8", "replace")
    return f.parts[f.data[0]].tolist()


@pytest.mark.parametrize("to", ["f32", "f16"])
def test_converted_default_model_reads_in_gguf(tmp_path, to):
    src_path = default_model()
    out = tmp_path / f"model-{to}.gguf"
    r = subprocess.run([bench_binary(), "convert", src_path, "--to", to, str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    src, dst = gguf.GGUFReader(src_path), gguf.GGUFReader(str(out))

    assert field_value(dst.fields["general.file_type"]) == [1 if to == "f16" else 0]
    src_fields = {k: field_value(f) for k, f in src.fields.items() if not k.startswith("GGUF.")}
    dst_fields = {k: field_value(f) for k, f in dst.fields.items() if not k.startswith("GGUF.")}
    src_fields.pop("general.file_type", None)
    dst_fields.pop("general.file_type")
    assert src_fields == dst_fields

    want_2d = gguf.GGMLQuantizationType.F16 if to == "f16" else gguf.GGMLQuantizationType.F32
    assert [t.name for t in src.tensors] == [t.name for t in dst.tensors]
    for s, d in zip(src.tensors, dst.tensors):
        assert list(s.shape) == list(d.shape), s.name
        assert d.tensor_type == (want_2d if len(s.shape) == 2 else gguf.GGMLQuantizationType.F32), s.name
        ref = gguf.dequantize(s.data, s.tensor_type).astype(np.float32)
        got = np.asarray(d.data)
        if d.tensor_type == gguf.GGMLQuantizationType.F16:
            ref = ref.astype(np.float16)
        # Same values in the same (llama.cpp) row order as the quantized original.
        assert np.array_equal(got.reshape(ref.shape), ref), s.name


def test_convert_usage_errors(tmp_path):
    bench = bench_binary()
    assert subprocess.run([bench, "convert", "--help"], capture_output=True).returncode == 0
    r = subprocess.run([bench, "convert", default_model(), "--to", "q4_0", str(tmp_path / "x.gguf")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--to" in r.stderr
    r = subprocess.run([bench, "convert", str(tmp_path / "missing.gguf"), "--to", "f32", str(tmp_path / "y.gguf")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "missing.gguf" in r.stderr
