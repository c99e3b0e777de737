"""suites/nightly.json (run by .github/workflows/nightly-gpu.yml) names only registered tasks and methods and is a
valid suite for the bench binary."""
import json
import os
import re
import subprocess

import pytest

import make_db

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUITE = os.path.join(REPO, "suites", "nightly.json")


def named(suite):
    tasks = {t["task"] for t in suite.get("tasks", [])} | ({"latency"} if "latency" in suite else set())
    methods = {m["method"] for m in suite["methods"]}
    return tasks, methods


def listed(bench, what):
    out = subprocess.run([bench, "list", what], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip() and not line.startswith("(")}


def test_nightly_suite_names_registered_tasks_and_methods():
    suite = json.load(open(SUITE, encoding="utf-8"))
    tasks, methods = named(suite)
    assert "latency" in tasks, "the nightly needs latency results for `bench compare` and the report"
    # From the sources that register them (always available, whatever was built).
    src_tasks, src_methods = set(), set()
    for root, out in (("datasets", src_tasks), ("methods", src_methods)):
        for dirpath, _, files in os.walk(os.path.join(REPO, root)):
            for f in files:
                if f.endswith(".cpp"):
                    text = open(os.path.join(dirpath, f)).read()
                    out |= set(re.findall(r'\b[tm]\.name\s*=\s*"([^"]+)"', text))
                    # BENCH_REGISTER_TASK(arc_challenge) registers "arc-challenge" (the names' convention).
                    out |= {n.replace("_", "-") for n in re.findall(r'BENCH_REGISTER_TASK\((\w+)\)', text)}
    assert tasks <= src_tasks, f"not registered under datasets/: {sorted(tasks - src_tasks)}"
    assert methods <= src_methods, f"not registered under methods/: {sorted(methods - src_methods)}"


def test_nightly_suite_is_valid_for_the_binary():
    bench = make_db.find_bench()
    if not bench:
        pytest.skip("no bench binary built (ctest sets BENCH_BINARY)")
    suite = json.load(open(SUITE, encoding="utf-8"))
    tasks, methods = named(suite)
    have_tasks, have_methods = listed(bench, "datasets"), listed(bench, "methods")
    assert tasks <= have_tasks, f"{bench} does not register {sorted(tasks - have_tasks)}"
    assert methods <= have_methods, f"{bench} does not register {sorted(methods - have_methods)}"
    res = subprocess.run([bench, "run", SUITE, "--dry-run"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
    # Every method appears on the latency task, so the report can place every method on the compression axis.
    for m in methods:
        assert re.search(rf"latency\(.*\) / {re.escape(m)}\b", res.stdout), m
