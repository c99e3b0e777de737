#!/usr/bin/env python3
"""Side by side with llama.cpp on the same weights, the same machine and the same thread count, in one run:

  speed       llama-bench -p 512 -n 128 (and the decode at depth 512, -d 512) against bench's latency task with a
              512-token prompt and 128 decoded tokens, for F32 and F16 weights (llama-quantize writes the model
              file's own weights, dequantized, as F32/F16 GGUF files: the weights bench holds) and the file's Q4_1
              as is (llama.cpp only: bench has no native Q4_1 path yet);
  perplexity  llama-perplexity -c 512 --chunks N on WikiText-2's test file against bench's wikitext2 task (plain
              mode, n_ctx 512, max_chunks N) on the F32 weights, and llama.cpp on the Q4_1 file.

  scripts/llama-cpp/compare.py [--isa native|avx2] [--threads 1,2] [--chunks 20] [--reps 3] [--out DIR]

--isa avx2 caps both sides to AVX2 (llama.cpp built without AVX-512, bench with BENCH_ISA=avx2), to compare what
an AVX2-only CPU would see on a machine that has AVX-512. Prints Markdown tables; --out keeps the raw outputs.
Needs the default model and data (scripts/setup.sh) and builds llama.cpp with scripts/llama-cpp/build.sh."""
import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cache_dir():
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def run(cmd, env=None, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, **kw)


def llama_bench(bin_dir, model, threads, reps):
    """(prefill tok/s at 512, decode tok/s from an empty context, decode tok/s at depth 512)."""
    def one(extra):
        out = run([f"{bin_dir}/llama-bench", "-m", model, "-t", str(threads), "-r", str(reps), "-o", "json", *extra])
        return json.loads(out.stdout)
    rows = one(["-p", "512", "-n", "128"])
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] == 512 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] == 128 and r["n_prompt"] == 0)
    rows = one(["-p", "0", "-n", "128", "-d", "512"])
    tg_d = next(r["avg_ts"] for r in rows if r["n_gen"] == 128)
    return pp, tg, tg_d


def bench_latency(bench, storage, threads, reps, workdir, env):
    suite = {"name": f"llama-compare-{storage}-{threads}", "model": {"name": "smollm2-135m-instruct", "storage": storage},
             "threads": threads,
             "latency": {"contexts": [512], "decode_tokens": 128, "warmup": 1, "repetitions": reps},
             "methods": [{"method": "fp16"}]}
    path = os.path.join(workdir, f"lat-{storage}-{threads}.json")
    db = os.path.join(workdir, f"lat-{storage}-{threads}.db")
    with open(path, "w") as f:
        json.dump(suite, f)
    run([bench, "run", path, "--db", db, "--no-report"], env=env)
    con = sqlite3.connect(db)

    def median(name):
        vals = sorted(v for (v,) in con.execute("SELECT value FROM results WHERE metric = ?", (name,)))
        return vals[len(vals) // 2]
    return median("prefill_tok_s"), median("decode_tok_s")


def llama_ppl(bin_dir, model, text, chunks, threads):
    out = run([f"{bin_dir}/llama-perplexity", "-m", model, "-f", text, "-c", "512", "--chunks", str(chunks),
               "-t", str(threads), "-b", "512"])
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", out.stdout + out.stderr)
    return float(m.group(1)), float(m.group(2))


def bench_ppl(bench, chunks, threads, workdir, env):
    suite = {"name": "llama-compare-ppl", "model": {"name": "smollm2-135m-instruct", "storage": "f32"},
             "threads": threads, "tasks": [{"task": "wikitext2", "options": {"n_ctx": 512, "max_chunks": chunks,
                                                                             "kl": False}}],
             "methods": [{"method": "fp16"}]}
    path, db = os.path.join(workdir, "ppl.json"), os.path.join(workdir, "ppl.db")
    with open(path, "w") as f:
        json.dump(suite, f)
    run([bench, "run", path, "--db", db, "--no-report"], env=env)
    con = sqlite3.connect(db)
    get = lambda n: con.execute("SELECT value FROM results WHERE metric = ?", (n,)).fetchone()[0]
    return get("ppl"), get("ppl_stderr")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--isa", choices=["native", "avx2"], default="native")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", help="keep the generated models' outputs, suites and databases here")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-ppl", action="store_true")
    a = ap.parse_args()

    bench = os.environ.get("BENCH_BINARY") or os.path.join(ROOT, "build", "bin", "bench")
    bin_dir = run([os.path.join(ROOT, "scripts", "llama-cpp", "build.sh"), a.isa]).stdout.strip().splitlines()[-1]
    q41 = os.path.join(cache_dir(), "benchpress", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    data = os.environ.get("BENCH_DATA_ROOT") or os.path.join(cache_dir(), "benchpress", "data")
    text = os.path.join(data, "wikitext-2-raw", "wiki.test.raw")
    for p in (bench, q41, text):
        if not os.path.exists(p):
            sys.exit(f"{p} not found: run scripts/setup.sh first")
    env = dict(os.environ)
    if a.isa == "avx2":
        env["BENCH_ISA"] = "avx2"
    work = a.out or tempfile.mkdtemp(prefix="llama-compare-")
    os.makedirs(work, exist_ok=True)
    # The file's weights, dequantized, as F32 and F16 GGUF files: what bench holds with storage f32 / f16.
    models = {"q4_1": q41}
    for t in ("F32", "F16"):
        dst = os.path.join(ROOT, ".cache", "llama.cpp", f"SmolLM2-135M-Instruct.{t}-from-Q4_1.gguf")
        if not os.path.exists(dst):
            run([f"{bin_dir}/llama-quantize", "--allow-requantize", q41, dst, t])
        models[t.lower()] = dst

    print(f"## llama.cpp (llama-cpp-python 0.3.36's vendor copy) vs bench, ISA {a.isa}, "
          f"{os.cpu_count()} CPUs\n")
    if not a.no_speed:
        print("| weights | threads | prefill 512 tok/s: bench / llama.cpp | decode tok/s: bench (after 512) / "
              "llama.cpp tg128 (empty) / llama.cpp tg128 @ depth 512 |")
        print("|---|---|---|---|")
        for threads in [int(t) for t in a.threads.split(",")]:
            for w in ("f32", "f16", "q4_1"):
                pp, tg, tg_d = llama_bench(bin_dir, models[w], threads, a.reps)
                if w == "q4_1":
                    print(f"| Q4_1 (file) | {threads} | - / {pp:.1f} | - / {tg:.1f} / {tg_d:.1f} |", flush=True)
                    continue
                bpp, btg = bench_latency(bench, w, threads, a.reps, work, env)
                print(f"| {w.upper()} | {threads} | {bpp:.1f} / {pp:.1f} ({bpp / pp:.2f}x) | {btg:.1f} / {tg:.1f} / "
                      f"{tg_d:.1f} ({btg / tg_d:.2f}x at equal depth) |", flush=True)
        print()
    if not a.no_ppl:
        threads = max(int(t) for t in a.threads.split(","))
        lp, lse = llama_ppl(bin_dir, models["f32"], text, a.chunks, threads)
        lq, lqse = llama_ppl(bin_dir, models["q4_1"], text, a.chunks, threads)
        bp, bse = bench_ppl(bench, a.chunks, threads, work, env)
        print(f"| WikiText-2 test, n_ctx 512, first {a.chunks} chunks | PPL |")
        print("|---|---|")
        print(f"| bench wikitext2 (plain), F32 weights | {bp:.4f} ± {bse:.4f} |")
        print(f"| llama-perplexity, F32 GGUF (same weights) | {lp:.4f} ± {lse:.4f} |")
        print(f"| relative difference | {100 * (bp - lp) / lp:+.3f}% |")
        print(f"| llama-perplexity, the Q4_1 file as is (activations quantized to Q8_1) | {lq:.4f} ± {lqse:.4f} |")


if __name__ == "__main__":
    main()
