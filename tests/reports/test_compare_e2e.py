"""`bench compare` end to end on databases with planted regressions, planted improvements and pure noise."""
import json
import os

import pytest
from scipy import stats

import make_db
from bench_entry import run_entry

V = make_db.Variant
# A smaller set of methods keeps these databases quick to write and compare.
VARIANTS = [make_db.DEFAULT_VARIANTS[0], make_db.DEFAULT_VARIANTS[1], make_db.DEFAULT_VARIANTS[2],
            make_db.DEFAULT_VARIANTS[5]]


def write(path, **kw):
    conn = make_db.create_db(str(path))
    run = make_db.add_run(conn, **kw)
    conn.close()
    return f"{path}:{run}"


def compare(tmp_path, base, head, *extra):
    out_json = tmp_path / "cmp.json"
    res = run_entry("compare", [base, head, "--out-json", str(out_json), *extra])
    doc = json.loads(out_json.read_text()) if out_json.exists() else None
    return res, doc


def verdicts(doc, verdict):
    return {(r["configuration"], r["metric"], json.dumps(r["labels"], sort_keys=True))
            for r in doc["rows"] if r["verdict"] == verdict}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("planted")
    base = write(d / "base.db", seed=11, variants=VARIANTS)
    head = write(d / "head.db", seed=12, variants=VARIANTS, commit="1111111111111111111111111111111111111111",
                 effects=[{"variant": "kv-int8", "task": "latency", "decode_factor": 1.25},
                          {"variant": "kv-int4(group=32)", "task": "latency", "prefill_factor": 0.8},
                          {"variant": "snapkv(budget=0.5)", "task": "piqa", "flip": 25},
                          {"variant": "kv-int4(group=32)", "task": "wikitext2", "nll_shift": 0.05}])
    return base, head


def test_planted_regressions_are_found_and_nothing_else(planted, tmp_path):
    base, head = planted
    res, doc = compare(tmp_path, base, head)
    assert res.returncode == 1, res.stdout + res.stderr
    worse = verdicts(doc, "worse")
    decode = {(c, m) for c, m, _ in worse if m.startswith("decode_ms")}
    # 25% slower decoding at every context length, median and p90 per token (and decode_tok_s is worse too).
    assert {l for c, m, l in worse if c == "latency / kv-int8" and m == "decode_ms_median"} == \
        {'{"context": 512}', '{"context": 2048}', '{"context": 8192}'}
    assert ("latency / kv-int8", "decode_ms_p90") in decode
    assert {l for c, m, l in worse if c == "latency / kv-int8" and m == "decode_tok_s"}
    # 25 PIQA items lost: McNemar on the paired items.
    acc = [r for r in doc["rows"] if r["configuration"] == "piqa / snapkv(budget=0.5)" and r["metric"] == "acc"][0]
    assert acc["verdict"] == "worse" and acc["test"].startswith("McNemar") and acc["p"] < 1e-5
    assert "0 gained, 25 lost" in acc["note"]
    # +0.05 nats per token: perplexity 5% worse, found by the paired test on the per-token NLL items.
    ppl = [r for r in doc["rows"] if r["configuration"] == "wikitext2 / kv-int4(group=32)" and r["metric"] == "ppl"][0]
    assert ppl["verdict"] == "worse" and ppl["test"].startswith("paired bootstrap")
    assert ppl["estimate"] == pytest.approx(1.0513, abs=1e-3)
    # Nothing else is called worse: only the planted configurations.
    planted_cfgs = {"latency / kv-int8", "piqa / snapkv(budget=0.5)", "wikitext2 / kv-int4(group=32)"}
    assert {c for c, _, _ in worse} == planted_cfgs, sorted(worse)
    # The planted speed-up shows as better.
    better = verdicts(doc, "better")
    assert {l for c, m, l in better if c == "latency / kv-int4(group=32)" and m == "prefill_ms"} == \
        {'{"context": 512}', '{"context": 2048}', '{"context": 8192}'}
    assert doc["exit_code"] == 1
    # The terminal table says it too.
    assert "REGRESSION" in res.stdout and "latency / kv-int8" in res.stdout


def test_thresholds_file_overrides_the_defaults(planted, tmp_path):
    base, head = planted
    with open(os.path.join(os.path.dirname(make_db.__file__), "..", "..", "reports", "compare_thresholds.json")) as f:
        th = json.load(f)
    # A 50% tolerance on latency and accuracy, and the perplexity rule only: nothing planted passes it.
    for rule in th["metrics"]:
        if rule["match"] in ("decode_ms_median", "decode_ms_p90", "*_tok_s", "ppl", "nll*", "acc*", "kl_*"):
            rule["rel"], rule["abs"] = 0.5, 0.5
    path = tmp_path / "loose.json"
    path.write_text(json.dumps(th))
    res, doc = compare(tmp_path, base, head, "--thresholds", str(path))
    assert res.returncode == 0, res.stdout
    assert not verdicts(doc, "worse")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"metrics": [{"match": "x", "direction": "sideways"}]}))
    res, _ = compare(tmp_path, base, head, "--thresholds", str(bad))
    assert res.returncode == 2 and "/metrics/0/direction" in res.stderr


def test_planted_improvements_pass(tmp_path):
    base = write(tmp_path / "base.db", seed=21, variants=VARIANTS)
    head = write(tmp_path / "head.db", seed=22, variants=VARIANTS,
                 effects=[{"variant": "kv-int8", "task": "latency", "decode_factor": 0.7},
                          {"variant": "kv-int4(group=32)", "task": "piqa", "flip": -20}])
    res, doc = compare(tmp_path, base, head, "--format", "md", "--out-md", str(tmp_path / "cmp.md"))
    assert res.returncode == 0, res.stdout
    better = verdicts(doc, "better")
    assert {l for c, m, l in better if c == "latency / kv-int8" and m == "decode_ms_median"} == \
        {'{"context": 512}', '{"context": 2048}', '{"context": 8192}'}
    assert ("piqa / kv-int4(group=32)", "acc", "{}") in better
    assert not verdicts(doc, "worse")
    md = (tmp_path / "cmp.md").read_text()
    assert md == res.stdout  # --format md prints what --out-md writes
    assert md.startswith("## bench compare") and "| configuration | metric |" in md and "**better**" in md


def test_pure_noise_raises_no_false_alarm(tmp_path):
    """200 configurations of pure noise (10 repetitions each, 2% log-normal noise with occasional 15% outliers,
    and a 1% shift of the whole head run as between two nights), every timed metric compared at the default
    thresholds: 'worse' may appear at most as often as the test's level allows."""
    noise = [V("noise", {"i": i}, 0.5, 0.0, 1.0) for i in range(200)]
    base = write(tmp_path / "base.db", seed=31, variants=noise, tasks=("latency",),
                 task_options={"latency": {"contexts": [512, 4096]}})
    head = write(tmp_path / "head.db", seed=32, variants=noise, tasks=("latency",), run_shift=1.01,
                 task_options={"latency": {"contexts": [512, 4096]}})
    res, doc = compare(tmp_path, base, head, "--show", "changes")
    timed = [r for r in doc["rows"] if r["test"].startswith("Mann-Whitney")]
    assert len(timed) == 200 * 2 * 5
    n_worse = sum(r["verdict"] == "worse" for r in timed)
    n_better = sum(r["verdict"] == "better" for r in timed)
    # A wrong call needs p < alpha = 0.01 (two-sided: 0.005 per direction) AND an estimate past the 5% threshold,
    # so under no change the rate is below 0.005; allow what Binomial(n, 0.005) reaches 999 times in 1000.
    bound = stats.binom.ppf(0.999, len(timed), 0.005)
    assert n_worse <= bound and n_better <= bound, (n_worse, n_better, bound)
    assert res.returncode == (1 if n_worse else 0)
    # Most of it is called the same; ambiguous is for what the repetitions cannot settle.
    n_same = sum(r["verdict"] == "same" for r in timed)
    assert n_same / len(timed) > 0.8, n_same
    print(f"noise: {len(timed)} timed comparisons: {n_worse} worse, {n_better} better, {n_same} same, "
          f"{len(timed) - n_worse - n_better - n_same} ambiguous")


def test_fail_on_ambiguous(tmp_path):
    """Too few, too noisy repetitions: the verdict is ambiguous, which fails only with --fail-on ambiguous."""
    v = VARIANTS[:2]
    kw = dict(variants=v, tasks=("latency",), repetitions=3, noise_cv=0.12)
    base = write(tmp_path / "base.db", seed=41, **kw)
    head = write(tmp_path / "head.db", seed=42, **kw)
    res, doc = compare(tmp_path, base, head)
    assert doc["counts"]["ambiguous"] > 0 and doc["counts"]["worse"] == 0
    assert res.returncode == 0
    res, doc = compare(tmp_path, base, head, "--fail-on", "ambiguous")
    assert res.returncode == 1
    assert "too noisy to tell" in res.stdout


def test_one_sided_configurations_and_run_ids_in_one_database(tmp_path):
    path = tmp_path / "both.db"
    conn = make_db.create_db(str(path))
    make_db.add_run(conn, seed=1, variants=VARIANTS[:3], tasks=("piqa", "latency"))
    make_db.add_run(conn, seed=2, variants=VARIANTS[1:], tasks=("piqa", "latency"),
                    failed=("latency / kv-int8",))
    conn.close()
    res, doc = compare(tmp_path, "1", "2", "--db", str(path))
    only_base = {c["configuration"] for c in doc["only_in_base"]}
    only_head = {c["configuration"] for c in doc["only_in_head"]}
    assert only_base == {"piqa / fp16", "latency / fp16"}
    assert only_head == {"piqa / snapkv(budget=0.5)", "latency / snapkv(budget=0.5)"}
    assert "configurations only in BASE (2):" in res.stdout and "only in HEAD (2)" in res.stdout
    # Complete in BASE, failed in HEAD: a regression.
    failed = [r for r in doc["rows"] if r["metric"] == "(configuration)"]
    assert [(r["configuration"], r["verdict"]) for r in failed] == [("latency / kv-int8", "worse")]
    assert res.returncode == 1
    # --base-db / --head-db with bare run ids, and a file without a run (its newest run).
    res2, doc2 = compare(tmp_path, "1", str(path), "--base-db", str(path))
    assert doc2["base"]["run"] == 1 and doc2["head"]["run"] == 2 and res2.returncode == 1


def test_compare_usage_errors(tmp_path):
    res, _ = compare(tmp_path, "1", "2", "--db", str(tmp_path / "none.db"))
    assert res.returncode == 2 and "no results database here" in res.stderr
    path = tmp_path / "one.db"
    conn = make_db.create_db(str(path))
    make_db.add_run(conn, variants=VARIANTS[:1], tasks=("piqa",))
    conn.close()
    res, _ = compare(tmp_path, "1", "7", "--db", str(path))
    assert res.returncode == 2 and "no run with id 7" in res.stderr
    res = run_entry("compare", ["--help"])
    assert res.returncode == 0 and "--fail-on" in res.stdout and "FILE.db:RUN" in res.stdout


def test_cpp_wrapper_runs_the_scripts(tmp_path):
    """`bench report`/`bench compare` are the C++ binary's subcommands (ctest passes BENCH_BINARY): they run the
    Python entry points with the same arguments and exit with their status."""
    import subprocess
    import sys
    from bench_entry import bench_with_reports
    bench = bench_with_reports()
    if not bench:
        if os.environ.get("BENCH_BINARY"):
            pytest.fail(f"{os.environ['BENCH_BINARY']} has no report/compare subcommands")
        pytest.skip("no bench binary built")
    env = dict(os.environ, BENCH_PYTHON=sys.executable)
    db = tmp_path / "w.db"
    conn = make_db.create_db(str(db))
    make_db.add_run(conn, variants=VARIANTS[:2], tasks=("piqa",))
    make_db.add_run(conn, variants=VARIANTS[:2], tasks=("piqa",), effects=[{"variant": "kv-int8", "flip": 30}])
    conn.close()
    run = lambda *a, **kw: subprocess.run([bench, *a], capture_output=True, text=True, timeout=300, **kw)
    assert run("compare", "1", "2", "--db", str(db), env=env).returncode == 1
    assert run("compare", "2", "1", "--db", str(db), env=env).returncode == 0
    res = run("compare", "1", env=env)
    assert res.returncode == 2 and "HEAD" in res.stderr
    # No interpreter: a clear message and 127, as a shell says for a missing program.
    res = run("report", "--db", str(db), "--out", str(tmp_path / "r"), env=dict(env, BENCH_PYTHON="/nonexistent/py"))
    assert res.returncode == 127 and "BENCH_PYTHON" in res.stderr
    # Scripts found from another working directory (the binary's own location or source tree).
    res = run("report", "--db", str(db), "--out", str(tmp_path / "r"), env=env, cwd=str(tmp_path))
    assert res.returncode == 0 and (tmp_path / "r" / "report.html").is_file(), res.stderr
