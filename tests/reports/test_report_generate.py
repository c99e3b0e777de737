"""`bench report` on synthetic databases written through the real schema (make_db.py)."""
import html.parser
import os
import re
import sqlite3
import xml.etree.ElementTree as ET

import matplotlib.image
import numpy as np
import pytest

import make_db
from bench_entry import run_entry
from reports.colors import method_colors


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.imgs, self.ids, self.scripts, self.links = {}, [], set(), [], []
        self._table = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = {"headers": [], "rows": 0}
        elif tag == "th" and self._table:
            self.tables[self._table]["headers"].append("")
        elif tag == "tr" and self._table:
            self.tables[self._table]["rows"] += 1
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "script":
            self.scripts.append(a)
        elif tag in ("a", "link"):
            self.links.append(a.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        t = self.tables.get(self._table) if self._table else None
        if t and t["headers"] and self.lasttag == "th":
            t["headers"][-1] += data


def parse(path):
    c = _Collector()
    with open(path, encoding="utf-8") as f:
        c.feed(f.read())
    return c


def check_png(path):
    assert os.path.getsize(path) > 2000, path
    img = matplotlib.image.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 300, (path, img.shape)
    # Not a blank canvas: several distinct colours, some of them far from white.
    flat = img[..., :3].reshape(-1, 3)
    assert float(flat.std()) > 0.02, path
    assert len(np.unique((flat * 255).astype(int), axis=0)) > 20, path


def check_svg(path):
    assert os.path.getsize(path) > 2000, path
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 50, path


def test_report_of_complete_run(report_db, tmp_path):
    out = tmp_path / "r1"
    res = run_entry("report", ["--db", report_db, "--run", "1", "--out", str(out)])
    assert res.returncode == 0, res.stderr
    html_path = out / "report.html"
    assert html_path.is_file()
    expected = ["accuracy-wikitext2", "accuracy-passkey", "accuracy-piqa", "prefill-latency", "decode-latency",
                "kv-cache-bytes"]
    for slug in expected:
        check_png(out / f"{slug}.png")
        check_svg(out / f"{slug}.svg")
    doc = parse(html_path)
    # Every plot embedded as a data URI; nothing fetched from the network (no CDN, no external script).
    assert len(doc.imgs) == len(expected)
    assert all(src.startswith("data:image/png;base64,") for src in doc.imgs)
    assert not [s for s in doc.scripts if "src" in s]
    assert not [h for h in doc.links if h.startswith(("http:", "https:", "//"))]
    # A sortable table per task, the configurations, and the metadata tables.
    for t in ("table-wikitext2", "table-passkey", "table-piqa", "table-latency", "configurations", "models",
              "datasets", "run-1-metadata"):
        assert t in doc.tables, t
    assert doc.tables["configurations"]["rows"] == 1 + 30
    lat_headers = doc.tables["table-latency"]["headers"]
    assert "context" in lat_headers and "prefill_ms (ms)" in lat_headers and "decode_ms_median (ms)" in lat_headers
    assert {"acc (fraction)", "acc_norm (fraction)"} <= set(doc.tables["table-piqa"]["headers"])
    text = html_path.read_text()
    # Metadata: commit, hardware, model and dataset checksums, suite.
    for needle in ("0123456789abcdef0123456789abcdef01234567", "NVIDIA H100 80GB HBM3", make_db.MODEL_SHA, "a" * 64,
                   "suites/synthetic.json", "AMD EPYC 9454"):
        assert needle in text, needle
    assert "All 30 configurations completed" in text
    assert "at context 8,192" in text  # which context the compression ratio comes from


def test_report_says_what_failed_or_is_missing(report_db, tmp_path):
    out = tmp_path / "r2"
    res = run_entry("report", ["--db", report_db, "--out", str(out)])  # default: the newest run (2)
    assert res.returncode == 0, res.stderr
    text = (out / "report.html").read_text()
    problems = text[text.index('id="problems"'):text.index('id="accuracy"')]
    assert "Failed: #" in problems and "piqa / snapkv(budget=0.25)" in problems
    assert "CUDA error: out of memory (planned failure)" in problems
    assert "latency / snapkv(budget=0.5) never ran" in problems
    assert "Run 2 has not finished" in problems
    # The accuracy plots still come out, and say which configuration has no compression ratio to place it by.
    assert "Not placed (no latency result for the same method and parameters): snapkv(budget=0.5)" in text
    assert re.search(r'<tr class="status-failed">', text)
    for slug in ("accuracy-piqa", "decode-latency"):
        check_png(out / f"{slug}.png")


def test_report_without_latency_or_accuracy(tmp_path):
    db = str(tmp_path / "partial.db")
    conn = make_db.create_db(db)
    make_db.add_run(conn, tasks=("piqa",))
    make_db.add_run(conn, tasks=("latency",))
    conn.close()
    out1, out2 = tmp_path / "acc", tmp_path / "lat"
    assert run_entry("report", ["--db", db, "--run", "1", "--out", str(out1)]).returncode == 0
    assert run_entry("report", ["--db", db, "--run", "2", "--out", str(out2)]).returncode == 0
    t1, t2 = (out1 / "report.html").read_text(), (out2 / "report.html").read_text()
    assert "No latency results in the selected run(s)" in t1
    assert "only fp16 (1× by definition) can be placed" in t1
    check_png(out1 / "accuracy-piqa.png")
    assert "No accuracy results in the selected run(s)" in t2
    check_png(out2 / "prefill-latency.png")
    # Coverage: every task measured every method, so nothing is reported missing.
    assert "Not measured by task" not in t1


def test_report_of_a_run_where_everything_failed(tmp_path):
    db = str(tmp_path / "failed.db")
    conn = make_db.create_db(db)
    v = make_db.DEFAULT_VARIANTS[:2]
    make_db.add_run(conn, tasks=("piqa", "latency"), variants=v,
                    failed=tuple(f"{t} / {x.name}" for t in ("piqa", "latency") for x in v))
    conn.close()
    res = run_entry("report", ["--db", db, "--out", str(tmp_path / "out")])
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "out" / "report.html").read_text()
    assert "4 failed" in text
    assert "No accuracy results" in text and "No latency results" in text


def test_report_of_several_runs_and_the_other_naming(tmp_path):
    """Two runs in one report; the second uses the metric names issue 6 listed (decode_ms_per_token,
    kv_ratio_vs_fp16 as method/fp16): the compression placed on the plot must be the same either way."""
    db = str(tmp_path / "two.db")
    conn = make_db.create_db(db)
    make_db.add_run(conn, seed=1, tasks=("piqa", "latency"))
    make_db.add_run(conn, seed=2, tasks=("piqa", "latency"), naming="brief")
    conn.close()
    from reports.benchdb import BenchDB
    from reports.report import Report
    from reports.verdicts import load_settings
    dbh = BenchDB(db)
    rep = Report(dbh, [1, 2], str(tmp_path), load_settings())
    cmap = rep.compression_map()
    by_run = {}
    for (run, key), (factor, L, _) in cmap.items():
        by_run.setdefault(key, {})[run] = (round(factor, 6), L)
    assert by_run and all(len(v) == 2 and v[1] == v[2] for v in by_run.values()), by_run
    int8 = next(v for k, v in by_run.items() if "\"kv-int8\"" in k[2])  # k: (model, storage, stack)
    assert int8[1][0] == pytest.approx(1 / 0.5078, rel=1e-3)
    dbh.close()
    out = tmp_path / "out"
    res = run_entry("report", ["--db", db, "--run", "1", "2", "--out", str(out)])
    assert res.returncode == 0, res.stderr
    text = (out / "report.html").read_text()
    assert "run-1-metadata" in text and "run-2-metadata" in text
    # The two runs' lines are told apart in the legends (SVG keeps text as text).
    assert "kv-int8 · run 2" in (out / "decode-latency.svg").read_text()
    check_png(out / "decode-latency.png")


def test_report_usage_errors(report_db, tmp_path):
    res = run_entry("report", ["--db", str(tmp_path / "missing.db"), "--out", str(tmp_path / "o")])
    assert res.returncode == 2 and "no results database here" in res.stderr
    res = run_entry("report", ["--db", report_db, "--run", "99", "--out", str(tmp_path / "o")])
    assert res.returncode == 2 and "no run with id 99" in res.stderr
    res = run_entry("report", ["--db", report_db])
    assert res.returncode == 2 and "--out" in res.stderr
    res = run_entry("report", ["--help"])
    assert res.returncode == 0 and "report.html" in res.stdout


def test_report_reads_a_database_it_cannot_write(report_db, tmp_path):
    """Reports only read: the database file is opened read-only (and may sit on a read-only artifact mount)."""
    ro = tmp_path / "ro.db"
    src = sqlite3.connect(report_db)
    dst = sqlite3.connect(str(ro))
    src.backup(dst)
    src.close()
    dst.close()
    before = ro.read_bytes()
    os.chmod(ro, 0o444)
    res = run_entry("report", ["--db", str(ro), "--run", "1", "--out", str(tmp_path / "o")])
    assert res.returncode == 0, res.stderr
    assert ro.read_bytes() == before


def test_method_colours_are_stable_and_distinct():
    small = method_colors(["fp16", "kv-int8", "kivi"])
    large = method_colors(["fp16", "kv-int8", "kivi", "zipcache", "kv-uniform", "snapkv", "h2o"])
    assert small["fp16"] == large["fp16"] == "#222222"
    assert len(set(large.values())) == len(large)
    # Adding methods does not repaint a method unless its hashed colour was taken (then it moves, deterministically).
    same = sum(small[m] == large[m] for m in small)
    assert same >= 2
    assert method_colors(["kivi", "fp16", "kv-int8"]) == small


def test_schema_comes_from_the_real_store():
    """The synthetic schema is the store's own: its tables and columns match the migrations in store_schema.cpp
    (and, when the bench binary can create a database, that database's schema)."""
    stmts, version, source = make_db.schema()
    assert version == len(make_db.migrations_from_source())
    mem = sqlite3.connect(":memory:")
    make_db.register_functions(mem)
    for s in stmts:
        mem.executescript(s)
    cols = {t: [r[1] for r in mem.execute(f"PRAGMA table_info({t})")] for t in ("runs", "configurations", "results",
                                                                                "summaries", "items",
                                                                                "configuration_members")}
    assert "comparison_key" in cols["configurations"] and "repetition" in cols["results"]
    src = sqlite3.connect(":memory:")
    make_db.register_functions(src)
    for m in make_db.migrations_from_source():
        src.executescript(m)
    src_cols = {t: [r[1] for r in src.execute(f"PRAGMA table_info({t})")] for t in cols}
    assert cols == src_cols, source
