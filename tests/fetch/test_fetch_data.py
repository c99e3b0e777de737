"""`bench fetch-data` against a local HTTP server: download, a wrong hash, an interrupted download that resumes, a
stale partial file, the local mirror, and the missing-file message of `bench run`.

The server serves the real data files (their bytes come from the data root the tests already use), so the hashes
checked are the ones the tasks register; it honours HTTP range requests and can be told to cut a response short or
to serve wrong bytes for one path."""
import hashlib
import os
import subprocess

import pytest

from bench_paths import bench_binary, data_root
from range_server import Server

PIQA = ["piqa/valid.jsonl", "piqa/valid-labels.lst"]


def source_bytes(rel):
    path = os.path.join(data_root(), rel)
    assert os.path.exists(path), f"{path} missing: run `bench fetch-data` (scripts/setup.sh does) or set BENCH_DATA_ROOT"
    with open(path, "rb") as f:
        return f.read()


def fetch(*args, env_extra=None):
    env = dict(os.environ)
    for k in ("BENCH_DATA_MIRROR", "BENCH_DATA_BASE_URL"):
        env.pop(k, None)
    env.update(env_extra or {})
    return subprocess.run([bench_binary(), "fetch-data", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def piqa_server():
    with Server({rel: source_bytes(rel) for rel in PIQA}) as s:
        yield s


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def listed(task):
    """(path, sha256) of what `bench fetch-data --list TASK` names."""
    out = fetch("--list", task)
    assert out.returncode == 0, out.stderr
    return [tuple(line.split("\t")[:2]) for line in out.stdout.splitlines()]


def test_download_places_verified_files_and_skips_them_next_time(piqa_server, tmp_path):
    out = fetch("piqa", "--base-url", piqa_server.url, "--data-root", str(tmp_path))
    assert out.returncode == 0, out.stderr
    for rel, digest in listed("piqa"):
        assert sha(tmp_path / rel) == digest
        assert not (tmp_path / (rel + ".part")).exists()
    assert out.stdout.count("downloaded") == 2
    n = len(piqa_server.requests)
    again = fetch("piqa", "--base-url", piqa_server.url, "--data-root", str(tmp_path))
    assert again.returncode == 0 and again.stdout.count("already there") == 2
    assert len(piqa_server.requests) == n, "a verified file must not be downloaded again"


def test_wrong_hash_installs_nothing(piqa_server, tmp_path):
    piqa_server.corrupt.add("piqa/valid-labels.lst")
    out = fetch("piqa", "--base-url", piqa_server.url, "--data-root", str(tmp_path))
    assert out.returncode == 1
    expected = dict(listed("piqa"))["piqa/valid-labels.lst"]
    assert "piqa/valid-labels.lst" in out.stderr and f"expected {expected}" in out.stderr, out.stderr
    assert not (tmp_path / "piqa/valid-labels.lst").exists()
    assert not (tmp_path / "piqa/valid-labels.lst.part").exists()
    assert (tmp_path / "piqa/valid.jsonl").exists(), "the other file is unaffected"


def test_interrupted_download_resumes_with_a_range_request(piqa_server, tmp_path):
    rel = "piqa/valid.jsonl"
    half = len(piqa_server.files[rel]) // 2
    piqa_server.cut[rel] = half
    out = fetch("piqa", "--base-url", piqa_server.url, "--data-root", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (rel, f"bytes={half}-") in piqa_server.requests, piqa_server.requests
    assert f"resuming {rel} at byte {half}" in out.stderr
    assert sha(tmp_path / rel) == dict(listed("piqa"))[rel]


def test_partial_file_left_by_a_killed_run_is_resumed(piqa_server, tmp_path):
    rel = "piqa/valid.jsonl"
    (tmp_path / "piqa").mkdir()
    (tmp_path / (rel + ".part")).write_bytes(piqa_server.files[rel][:1000])
    out = fetch("piqa", "--base-url", piqa_server.url, "--data-root", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (rel, "bytes=1000-") in piqa_server.requests
    assert sha(tmp_path / rel) == dict(listed("piqa"))[rel]


def test_stale_partial_file_is_fetched_again_from_scratch(piqa_server, tmp_path):
    rel = "piqa/valid-labels.lst"
    (tmp_path / "piqa").mkdir()
    (tmp_path / (rel + ".part")).write_bytes(b"x" * 100)  # not a prefix of the real file
    out = fetch("piqa", "--base-url", piqa_server.url, "--data-root", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert sha(tmp_path / rel) == dict(listed("piqa"))[rel]


def test_local_mirror_flag_and_environment(tmp_path):
    mirror = tmp_path / "mirror"
    for rel in PIQA:
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(source_bytes(rel))
    out = fetch("piqa", "--from", str(mirror), "--data-root", str(tmp_path / "a"))
    assert out.returncode == 0 and out.stdout.count("copied") == 2, out.stderr
    out = fetch("piqa", "--data-root", str(tmp_path / "b"), env_extra={"BENCH_DATA_MIRROR": str(mirror)})
    assert out.returncode == 0 and out.stdout.count("copied") == 2, out.stderr
    for rel, digest in listed("piqa"):
        assert sha(tmp_path / "a" / rel) == digest and sha(tmp_path / "b" / rel) == digest
    out = fetch("gsm8k", "--from", str(mirror), "--data-root", str(tmp_path / "c"))
    assert out.returncode == 1 and "has no gsm8k/test.jsonl" in out.stderr, out.stderr


def test_unknown_task_is_a_usage_error():
    out = fetch("no-such-task")
    assert out.returncode == 2 and 'unknown task "no-such-task"' in out.stderr


def test_run_names_the_fetch_command_for_a_missing_file(tmp_path):
    suite = tmp_path / "s.json"
    suite.write_text('{"name": "s", "model": "smollm2-135m-instruct", "tasks": [{"task": "piqa", '
                     '"options": {"limit": 2}}], "methods": [{"method": "fp16"}]}')
    env = dict(os.environ, BENCH_DATA_ROOT=str(tmp_path / "empty"))
    out = subprocess.run([bench_binary(), "run", str(suite), "--db", str(tmp_path / "r.db"), "--no-report"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "piqa/valid.jsonl" in out.stderr and "bench fetch-data" in out.stderr, out.stderr
