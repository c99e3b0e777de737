#!/usr/bin/env python3
"""Synthetic BenchPress result databases for the report and compare tests (and for trying the report by hand:
`python3 tests/reports/make_db.py /tmp/demo.db`).

The schema is never written here by hand. It comes from, in order of preference:
  1. a database created by the real `bench` binary: a one-configuration suite whose model file is not a model, so
     `bench run` creates the database, stores the run and a failed configuration, and stops (needs a registered
     `latency` task);
  2. the migrations themselves, read from harness/core/store_schema.cpp (the raw SQL strings of kMigrations, run in
     order as the C++ store runs them).
Rows are inserted by column name after reading the table's columns from the database, and a NOT NULL column this
generator does not fill is an error that names it, so a schema change shows up here at once.

The numbers imitate the tasks' results (protocols.md, issue 4): wikitext2 (ppl, kl_mean, kl_p99, top1_agree, per-token
NLL items with their chunk), passkey (accuracy per context/depth and overall, 1/0 items), piqa (acc, acc_norm, 1/0
items with both in the detail), latency (prefill_ms/prefill_tok_s/decode_ms_per_token per repetition, kv_bytes,
kv_ratio_vs_fp16, weight_bytes, peak_rss, labels {"context": L}). Effects can be planted per method variant.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA_CPP = os.path.join(REPO, "harness", "core", "store_schema.cpp")


# ---- the schema --------------------------------------------------------------------------------------------------

def canonical(obj) -> str:
    """JSON text as the C++ side writes it (nlohmann::json::dump of std::map-ordered objects)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def comparison_key_v1(model_sha256, model_storage, method, params, task, protocol, protocol_version,
                      protocol_params, dataset_files) -> str:
    # The schema-version-2 key that migration 2 backfills (store_schema.cpp); migration 3 replaces it.
    s = "\n".join(["benchpress-config-v1", model_sha256, model_storage, method, params, task, protocol,
                   str(protocol_version), protocol_params, dataset_files])
    return hashlib.sha256(s.encode()).hexdigest()


def comparison_key(model_sha256, model_storage, stack, task, protocol, protocol_version, protocol_params,
                   dataset_files) -> str:
    # Follows harness/core/identity.cpp so synthetic rows look like real ones; nothing relies on the two agreeing.
    s = "\n".join(["benchpress-config-v2", model_sha256, model_storage, stack, task, protocol, str(protocol_version),
                   protocol_params, dataset_files])
    return hashlib.sha256(s.encode()).hexdigest()


def identity(ckey, build_id) -> str:
    return hashlib.sha256(f"benchpress-identity-v1\n{ckey}\n{build_id}".encode()).hexdigest()


def stack_of_one(method, params) -> str:
    return json.dumps([{"method": method, "params": json.loads(params)}], separators=(",", ":"))


def find_bench() -> str | None:
    """The bench binary: $BENCH_BINARY (set by ctest), else the usual build folders."""
    cands = [os.environ.get("BENCH_BINARY")]
    if os.environ.get("BENCH_BUILD_DIR"):
        cands.append(os.path.join(os.environ["BENCH_BUILD_DIR"], "bin", "bench"))
    cands.append(os.path.join(REPO, "build", "bin", "bench"))
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _schema_from_binary(bench: str):
    try:
        listed = subprocess.run([bench, "list", "datasets"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not re.search(r"^latency\s", listed, re.M):
        return None
    tmp = tempfile.mkdtemp(prefix="bench-schema-probe-")
    try:
        with open(os.path.join(tmp, "not-a-model.gguf"), "wb") as f:
            f.write(b"this file is not a model: the configuration fails after the run is stored\n")
        suite = {"name": "schema-probe", "model": {"path": "not-a-model.gguf"}, "latency": {},
                 "methods": [{"method": "fp16"}]}
        with open(os.path.join(tmp, "probe.json"), "w") as f:
            json.dump(suite, f)
        db = os.path.join(tmp, "probe.db")
        subprocess.run([bench, "run", os.path.join(tmp, "probe.json"), "--db", db], capture_output=True, timeout=300,
                       cwd=tmp)
        if not os.path.isfile(db):
            return None
        return _schema_of(db)
    except (OSError, subprocess.TimeoutExpired, sqlite3.DatabaseError):
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _schema_of(db_path: str):
    conn = sqlite3.connect(db_path)
    try:
        stmts = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND "
                                            "name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if not stmts:
        return None
    return [s + ";" for s in stmts], version


def migrations_from_source(path: str = SCHEMA_CPP) -> list:
    """The SQL of each migration, in the order of the kMigrations array."""
    text = open(path, encoding="utf-8").read()
    order = re.search(r"kMigrations\[\]\s*=\s*\{([^}]*)\}", text)
    if not order:
        raise RuntimeError(f"{path}: no kMigrations array found; update tests/reports/make_db.py")
    out = []
    for name in [n.strip() for n in order.group(1).split(",") if n.strip()]:
        m = re.search(r"const char\*\s+" + re.escape(name) + r'\s*=\s*R"SQL\((.*?)\)SQL"', text, re.S)
        if not m:
            raise RuntimeError(f"{path}: migration {name} not found as a R\"SQL(...)SQL\" string")
        out.append(m.group(1))
    return out


_SCHEMA_CACHE = {}


def schema(prefer_binary: bool = True):
    """(statements, user_version, source) where source is 'bench binary' or 'store_schema.cpp'."""
    key = prefer_binary
    if key not in _SCHEMA_CACHE:
        got = None
        bench = find_bench() if prefer_binary else None
        if bench:
            got = _schema_from_binary(bench)
            if got:
                got = (got[0], got[1], f"bench binary ({bench})")
        if not got:
            migrations = migrations_from_source()
            got = (migrations, len(migrations), "store_schema.cpp")
        _SCHEMA_CACHE[key] = got
    return _SCHEMA_CACHE[key]


def register_functions(conn: sqlite3.Connection):
    """The SQL functions the migrations call (store_schema.cpp's register_sql_functions), in Python."""
    conn.create_function("bp_comparison_key", 9, lambda *a: comparison_key_v1(*map(str, a)), deterministic=True)
    conn.create_function("bp_comparison_key_v2", 8, lambda *a: comparison_key(*map(str, a)), deterministic=True)
    conn.create_function("bp_identity", 2, lambda *a: identity(*map(str, a)), deterministic=True)
    conn.create_function("bp_stack_of_one", 2, lambda *a: stack_of_one(*map(str, a)), deterministic=True)
    conn.create_function("bp_metric_better", 2, lambda task, metric: declared_better(str(task)).get(str(metric)),
                         deterministic=True)


def create_db(path: str, prefer_binary: bool = True) -> sqlite3.Connection:
    if os.path.exists(path):
        os.remove(path)
    stmts, version, source = schema(prefer_binary)
    conn = sqlite3.connect(path)
    # Used by migration 2's backfill when the schema comes from the migrations.
    register_functions(conn)
    conn.execute("PRAGMA foreign_keys = ON")
    for s in stmts:
        conn.executescript(s)
    conn.execute(f"PRAGMA user_version = {int(version)}")
    conn.commit()
    return conn


def insert(conn: sqlite3.Connection, table: str, row: dict) -> int:
    cols = conn.execute(f"PRAGMA table_info({table})").fetchall()  # cid, name, type, notnull, dflt, pk
    names = {c[1] for c in cols}
    unknown = set(row) - names
    if unknown:
        raise RuntimeError(f"make_db: table {table} has no column(s) {sorted(unknown)}: the schema changed")
    missing = [c[1] for c in cols if c[3] and c[4] is None and not c[5] and c[1] not in row]
    if missing:
        raise RuntimeError(f"make_db: table {table} needs column(s) {missing} that make_db.py does not fill")
    keys = list(row)
    cur = conn.execute(f"INSERT INTO {table} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                       [row[k] for k in keys])
    return cur.lastrowid


# ---- synthetic runs ----------------------------------------------------------------------------------------------

@dataclass
class Variant:
    method: str
    params: dict = field(default_factory=dict)
    kv_ratio: float = 1.0      # KV bytes relative to fp16
    quality: float = 0.0       # 0 = lossless; larger = more damage to accuracy
    speed: float = 1.0         # decode time factor vs fp16

    @property
    def name(self) -> str:
        p = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.method}({p})" if p else self.method


DEFAULT_VARIANTS = [
    Variant("fp16"),
    Variant("kv-int8", {}, 0.5078, 0.004, 0.97),
    Variant("kv-int4", {"group": 32}, 0.2813, 0.03, 0.93),
    Variant("kv-int4", {"group": 128}, 0.2578, 0.06, 0.92),
    Variant("snapkv", {"budget": 0.25}, 0.25, 0.12, 0.85),
    Variant("snapkv", {"budget": 0.5}, 0.5, 0.05, 0.9),
]

MODEL_SHA = hashlib.sha256(b"synthetic SmolLM2-135M-Instruct").hexdigest()
FP16_KV_BYTES_PER_TOKEN = 30 * 2 * 3 * 64 * 2  # layers x (K, V) x KV heads x head dim x 2 bytes

# Tasks as datasets/<task>/ define them (names, options, labels, units, item keys and details).
TASKS = {
    "wikitext2": {"protocol": "llama-perplexity", "sweep": None,
                  "options": {"n_ctx": 512, "max_chunks": 4, "mode": "streaming", "step": 16},
                  "files": [("wikitext-2-raw/wiki.test.raw", "a" * 64)]},
    "passkey": {"protocol": "passkey", "sweep": ("context", [1024, 4096]),
                "options": {"context": 1024, "depths_percent": [0, 50, 100], "items": 8, "seed": 1234,
                            "max_new_tokens": 10}, "files": []},
    "piqa": {"protocol": "lm-eval-loglikelihood", "sweep": None, "options": {"limit": 300, "seed": 0},
             "files": [("piqa/valid.jsonl", "b" * 64), ("piqa/valid-labels.lst", "c" * 64)]},
    "latency": {"protocol": "latency-memory", "sweep": None,
                "options": {"contexts": [512, 2048, 8192], "decode_tokens": 32, "warmup": 1, "repetitions": 10,
                            "seed": 0}, "files": []},
}
# Metric names: "current" as datasets/latency/latency.cpp reports them; "brief" as issue 6 listed them
# (decode_ms_per_token, and kv_ratio_vs_fp16 as method bytes / fp16 bytes). The report must handle both.
NAMING = {
    "current": {"decode": "decode_ms_median", "ratio": "kv_ratio", "ratio_unit": "x", "fp16_over_method": True},
    "brief": {"decode": "decode_ms_per_token", "ratio": "kv_ratio_vs_fp16", "ratio_unit": "ratio",
              "fp16_over_method": False},
}


def _stable_rng(*parts) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big"))


def _summary(values):
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"n": len(v), "median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "p90": float(np.quantile(v, 0.9)), "mean": mean, "stddev": sd, "cv": sd / abs(mean) if mean else None}


class Results:
    def __init__(self):
        self.metrics = []   # (name, labels, value, unit, rep)
        self.items = []     # (key, score, detail)

    def metric(self, name, value, unit, rep=0, labels=None):
        self.metrics.append((name, labels or {}, float(value), unit, rep))

    def item(self, key, score, detail=None):
        self.items.append((key, float(score), detail or {}))


def _effect(effects, variant, task, kind, default):
    for e in effects or []:
        if e.get("variant", variant.name) == variant.name and e.get("task", task) == task and kind in e:
            return e[kind]
    return default


def _latency(v: Variant, opts, seed, noise_cv, run_shift, effects, reps, naming) -> Results:
    r = Results()
    names = NAMING[naming]
    rng = np.random.default_rng(seed)
    for L in opts["contexts"]:
        lab = {"context": L}
        # Prefill grows a little faster than linearly with the context (attention); decode with the KV read.
        prefill = (0.045 * L + 2.2e-6 * L * L) * (0.98 + 0.02 * v.speed)
        decode = (6.0 + 0.0009 * L * v.kv_ratio * 2) * v.speed
        prefill *= _effect(effects, v, "latency", "prefill_factor", 1.0)
        decode *= _effect(effects, v, "latency", "decode_factor", 1.0)

        def noisy(x):
            y = x * run_shift * math.exp(rng.normal(0, noise_cv))
            # Now and then a repetition is hit by the scheduler: heavy-tailed noise, as on real machines.
            return y * (1.15 if rng.random() < 0.04 else 1.0)
        for rep in range(reps):
            p = noisy(prefill)
            r.metric("prefill_ms", p, "ms", rep, lab)
            r.metric("prefill_tok_s", L / p * 1000.0, "tok/s", rep, lab)
            d = noisy(decode)
            r.metric(names["decode"], d, "ms", rep, lab)
            if naming == "current":
                r.metric("decode_ms_p90", d * 1.08, "ms", rep, lab)
                r.metric("decode_tok_s", 1000.0 / d, "tok/s", rep, lab)
        fp16 = FP16_KV_BYTES_PER_TOKEN * L
        kv = int(fp16 * v.kv_ratio * _effect(effects, v, "latency", "kv_factor", 1.0))
        r.metric("kv_bytes", kv, "bytes", 0, lab)
        if naming == "current":
            r.metric("kv_bytes_part", kv // 2, "bytes", 0, {"context": L, "part": "k"})
            r.metric("kv_bytes_part", kv - kv // 2, "bytes", 0, {"context": L, "part": "v"})
            r.metric("kv_bytes_fp16", fp16, "bytes", 0, lab)
        r.metric(names["ratio"], fp16 / kv if names["fp16_over_method"] else kv / fp16, names["ratio_unit"], 0, lab)
    r.metric("weight_bytes", 538_049_664, "bytes")
    if naming == "current":
        r.metric("threads", 2, "count")
        r.metric("peak_rss_bytes", 1.21e9 * math.exp(rng.normal(0, 0.01)), "bytes", 0,
                 {"hwm_reset": True, "scope": "this configuration"})
    else:
        r.metric("peak_rss", 1.21e9 * math.exp(rng.normal(0, 0.01)), "bytes")
    return r


def _wikitext2(v: Variant, opts, item_seed, effects) -> Results:
    r = Results()
    base_rng = _stable_rng("wikitext2-tokens", opts["n_ctx"])  # the same tokens for every method
    rng = _stable_rng("wikitext2", v.name, item_seed, opts["n_ctx"])
    n_ctx = opts["n_ctx"]
    first, last = n_ctx // 2, n_ctx - 2
    nll_fp16 = base_rng.gamma(1.2, 2.4, size=(opts["max_chunks"], last - first + 1))
    damage = v.quality * rng.gamma(0.5, 1.0, size=nll_fp16.shape) if v.method != "fp16" else 0 * nll_fp16
    nll = nll_fp16 + damage + _effect(effects, v, "wikitext2", "nll_shift", 0.0)
    kl = damage * 0.4
    top1 = kl < 0.02
    reference = v.method == "fp16"
    for c in range(nll.shape[0]):
        for j in range(nll.shape[1]):
            detail = {} if reference else {"kl": float(kl[c, j]), "top1": int(top1[c, j])}
            r.item(f"{c}/{first + j}", nll[c, j], detail)
    labels = {"n_ctx": n_ctx, "mode": opts["mode"], "step": opts["step"]}
    mean_nll = float(nll.mean())
    r.metric("ppl", math.exp(mean_nll), "", 0, labels)
    r.metric("ppl_stderr", math.exp(mean_nll) * float(nll.std(ddof=1)) / math.sqrt(nll.size), "", 0, labels)
    r.metric("nll_mean", mean_nll, "nats", 0, labels)
    r.metric("tokens_scored", nll.size, "tokens", 0, labels)
    r.metric("chunks", nll.shape[0], "count", 0, labels)
    if not reference:
        r.metric("kl_mean", float(kl.mean()), "nats", 0, labels)
        r.metric("kl_p99", float(np.quantile(kl, 0.99)), "nats", 0, labels)
        r.metric("top1_agree", float(top1.mean()), "fraction", 0, labels)
    return r


def _binary_outcomes(task, v: Variant, n, base_p, item_seed, effects):
    """1/0 outcomes per item: fp16's outcomes, then items lost in proportion to the method's damage."""
    base = _stable_rng(task, "fp16-outcomes").random(n) < base_p
    rng = _stable_rng(task, v.name, item_seed)
    out = base & ~(rng.random(n) < v.quality)
    flips = int(_effect(effects, v, task.split("-")[0], "flip", 0))  # > 0: correct items lost; < 0: wrong gained
    idx = _stable_rng(task, v.name, "flip").permutation(n)
    if flips > 0:
        out[[i for i in idx if out[i]][:flips]] = False
    elif flips < 0:
        out[[i for i in idx if not out[i]][:-flips]] = True
    return out


def _passkey(v: Variant, opts, item_seed, effects) -> Results:
    r = Results()
    L, n = opts["context"], opts["items"]
    total = []
    for d in opts["depths_percent"]:
        ok = _binary_outcomes(f"passkey-{L}-{d}", v, n, 0.97 - L / 40000, item_seed, effects)
        for i in range(n):
            r.item(f"{L}/{d}/{i}", float(ok[i]), {"depth_percent": d, "seed": str(1000 + i), "prompt_tokens": L - 3,
                                                  "answer": f"{(31337 * (i + 1) + L) % 100000:05d}"})
        r.metric("accuracy", float(ok.mean()), "fraction", 0, {"context": L, "depth_percent": d})
        total.extend(ok)
    r.metric("accuracy", float(np.mean(total)), "fraction", 0, {"context": L})
    r.metric("items", len(total), "count", 0, {"context": L})
    r.metric("prompt_tokens", L - 3, "tokens", 0, {"context": L})
    return r


def _piqa(v: Variant, opts, item_seed, effects) -> Results:
    r = Results()
    n = opts["limit"]
    acc = _binary_outcomes("piqa", v, n, 0.66, item_seed, effects)
    acc_norm = _binary_outcomes("piqa-norm", v, n, 0.68, item_seed, effects)
    for i in range(n):
        r.item(f"{i}", float(acc[i]), {"gold": i % 2, "chosen": (i % 2) if acc[i] else 1 - i % 2,
                                       "acc_norm": int(acc_norm[i])})
    for name, a in (("acc", acc), ("acc_norm", acc_norm)):
        p = float(a.mean())
        r.metric(name, p, "fraction")
        r.metric(name + "_stderr", math.sqrt(p * (1 - p) / (n - 1)), "fraction")
    r.metric("items", n, "count")
    return r


def add_run(conn, *, seed=0, variants=None, tasks=("wikitext2", "passkey", "piqa", "latency"), task_options=None,
            repetitions=10, noise_cv=0.02, run_shift=1.0, effects=None, item_seed=0, failed=(), pending=(),
            commit="0123456789abcdef0123456789abcdef01234567", suite_name="synthetic", build_id=None,
            gpu="NVIDIA H100 80GB HBM3", started_at="2026-01-10T02:00:00.000Z", run_status=None,
            naming="current") -> int:
    """One run: every task (and its sweep) x every variant. `failed` / `pending`: configuration labels
    ('piqa / kv-int8', 'passkey(context=1024) / fp16') to fail or leave unrun. `effects`: [{"variant": name, "task": t, <kind>: value}] with kinds prefill_factor, decode_factor,
    kv_factor (latency), nll_shift (wikitext2), flip (accuracy tasks: items lost, negative = gained)."""
    variants = variants or DEFAULT_VARIANTS
    build_id = build_id or hashlib.sha256(f"build-{commit}".encode()).hexdigest()
    suite = {"name": suite_name, "model": {"name": "smollm2-135m-instruct"}, "tasks": list(tasks),
             "methods": sorted({v.method for v in variants})}
    suite_text = json.dumps(suite, indent=2)
    run_id = insert(conn, "runs", {
        "suite_name": suite_name, "suite_path": f"suites/{suite_name}.json",
        "suite_sha256": hashlib.sha256(suite_text.encode()).hexdigest(), "suite_text": suite_text,
        "started_at": started_at, "ended_at": started_at.replace("T02", "T03"), "status": "running",
        "git_commit": commit, "git_dirty": 0, "compiler": "GNU 12.2.0", "build_type": "Release",
        "build_flags": "-O3 -march=native", "build_id": build_id, "bench_version": "0.1.0",
        "cpu_model": "AMD EPYC 9454 48-Core Processor", "cpu_cores": 16, "gpu_model": gpu,
        "gpu_driver": "550.90.07" if gpu else None, "cuda_version": "12.4" if gpu else None,
        "os": "Debian GNU/Linux 12 (bookworm)", "host": "synthetic-runner", "pid": 4242, "threads": 2, "seed": 0,
        "device": "cuda" if gpu else "cpu", "data_root": "/data", "command_line": f"bench run suites/{suite_name}.json"})
    plan = 0
    any_bad = False
    todo = []
    for task in tasks:
        spec = TASKS[task]
        base_opts = dict(spec["options"], **((task_options or {}).get(task, {})))
        if task == "latency":
            base_opts["repetitions"] = repetitions
        sweep = spec["sweep"] if not (task_options or {}).get(task) else None
        for value in (sweep[1] if sweep else [None]):
            opts = dict(base_opts, **({sweep[0]: value} if sweep else {}))
            todo += [(task, opts, v) for v in variants]
    for task, opts, v in todo:
        spec = TASKS[task]
        files = canonical([{"path": p, "sha256": s} for p, s in spec["files"]])
        params = canonical(v.params)
        pp = canonical({"device": "cuda" if gpu else "cpu", "metrics": [], "options": opts, "seed": 0, "threads": 2})
        stack = stack_of_one(v.method, params)
        ckey = comparison_key(MODEL_SHA, "f32", stack, task, spec["protocol"], "1", pp, files)
        label = f"{task}({spec['sweep'][0]}={opts[spec['sweep'][0]]})" if spec["sweep"] else task
        label = f"{label} / {v.name}"
        status = "failed" if label in failed else "pending" if label in pending else "complete"
        any_bad |= status != "complete"
        cid = insert(conn, "configurations", {
            "run_id": run_id, "plan_index": plan, "label": label, "method": v.method,
            "method_kind": "kv-cache", "params": params, "model_name": "smollm2-135m-instruct",
            "model_path": "/cache/benchpress/smollm2-135m-instruct.gguf", "model_sha256": MODEL_SHA,
            "model_storage": "f32", "task": task, "task_options": canonical(opts), "dataset_files": files,
            "protocol": spec["protocol"], "protocol_version": 1, "protocol_params": pp, "build_id": build_id,
            "identity": identity(ckey, build_id), "comparison_key": ckey, "stack": stack,
            "status": status, "error": "CUDA error: out of memory (planned failure)" if status == "failed" else None,
            "exec_order": None if status == "pending" else plan + 1,
            "started_at": None if status == "pending" else started_at,
            "ended_at": None if status == "pending" else started_at, "wall_s": None if status == "pending" else 3.5})
        insert(conn, "configuration_members", {"configuration_id": cid, "position": 0, "roles": "kv-cache",
                                               "method": v.method, "params": params})
        plan += 1
        if status != "complete":
            continue
        if task == "latency":
            res = _latency(v, opts, seed * 100003 + plan, noise_cv, run_shift, effects, repetitions, naming)
        else:
            res = {"wikitext2": _wikitext2, "passkey": _passkey, "piqa": _piqa}[task](v, opts, item_seed, effects)
        _store(conn, cid, spec["protocol"], res, task)
    conn.execute("UPDATE runs SET status = ? WHERE id = ?", (run_status or ("failed" if any_bad else "complete"), run_id))
    conn.commit()
    return run_id


_DECLARED = {}


def declared_better(task: str) -> dict:
    """{metric: "lower" | "higher" | "none"} as the task's registration declares it (`bench describe TASK --json`),
    which is what the store writes with every value; {} without a bench binary."""
    if task not in _DECLARED:
        bench, got = find_bench(), {}
        if bench:
            out = subprocess.run([bench, "describe", task, "--json"], capture_output=True, text=True, timeout=60)
            if out.returncode == 0:
                got = {m["name"]: m["better"] for m in json.loads(out.stdout).get("metrics", [])}
        _DECLARED[task] = got
    return _DECLARED[task]


def _store(conn, cid, protocol, res: Results, task: str):
    groups = {}
    better = declared_better(task)
    has_better = any(c[1] == "better" for c in conn.execute("PRAGMA table_info(results)"))
    for name, labels, value, unit, rep in res.metrics:
        row = {"configuration_id": cid, "metric": name, "labels": canonical(labels), "value": value,
               "unit": unit, "repetition": rep, "protocol": protocol, "protocol_version": 1}
        if has_better:
            # A metric the task does not declare (the legacy names) gets NULL, as migration 4 gives such rows.
            row["better"] = better.get(name)
        insert(conn, "results", row)
        groups.setdefault((name, canonical(labels)), (unit, []))[1].append(value)
    # As the store does: a summary for every (metric, labels) with more than one repetition.
    for (name, labels), (unit, values) in groups.items():
        if len(values) > 1:
            insert(conn, "summaries", {"configuration_id": cid, "metric": name, "labels": labels, "unit": unit,
                                       **_summary(values)})
    conn.executemany("INSERT INTO items (configuration_id, key, score, detail) VALUES (?, ?, ?, ?)",
                     [(cid, k, s, canonical(d)) for k, s, d in res.items])


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a synthetic BenchPress results database (two runs).")
    ap.add_argument("out", help="database file to (re)create")
    ap.add_argument("--with-failures", action="store_true", help="the second run has failed and unrun configurations")
    a = ap.parse_args(argv)
    conn = create_db(a.out)
    add_run(conn, seed=1)
    add_run(conn, seed=2, commit="fedcba9876543210fedcba9876543210fedcba98", started_at="2026-01-11T02:00:00.000Z",
            failed=("piqa / snapkv(budget=0.25)",) if a.with_failures else (),
            pending=("latency / snapkv(budget=0.5)",) if a.with_failures else ())
    print(f"{a.out}: schema from {schema()[2]}")


if __name__ == "__main__":
    main()
