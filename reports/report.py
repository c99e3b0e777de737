#!/usr/bin/env python3
"""`bench report`: plots and a self-contained report.html from a results database.

Runs directly too: python3 reports/report.py [--db results/bench.db] [--run ID ...] --out DIR
Writes into DIR: report.html (plots embedded as data: URIs, a sortable table per task, the runs' metadata, and what
is missing or failed), and every plot as PNG and SVG.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import sys

if __package__ in (None, ""):
    # Run as a script: import the package from the repository root, and keep this folder off sys.path so its
    # module names cannot shadow anything.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

import numpy as np

from reports import plots
from reports.benchdb import BenchDB, DatabaseError, labels_text, params_text, resolve_runs
from reports.colors import method_colors, variant_styles
from reports.htmlpage import esc, figure_html, page, table_html
from reports.verdicts import SettingsError, load_settings

DESCRIPTION = """\
Writes into DIR: accuracy versus KV compression for each task (a point per configuration, each method's Pareto
front), prefill latency and decode latency per token versus context length (a line per method with the spread of
the repetitions as a band), KV-cache bytes versus context length, each as PNG and SVG, and report.html: one
self-contained page with the plots, a sortable results table per task, the runs' metadata (commit, hardware, model
and dataset checksums, suite) and a list of what is missing or failed. A run with failed or missing configurations
still gets a report, which says so.

Exit codes: 0 report written; 2 bad usage, a missing database or an unknown run."""

# Per-token decode latency: the name issue 6 listed, then the one datasets/latency reports (the median of each
# repetition's per-token times); the first a configuration has is plotted.
DECODE_METRICS = ("decode_ms_per_token", "decode_ms_median")
# KV compression against fp16, as stored: kv_ratio (unit x: fp16 bytes / method bytes) or kv_ratio_vs_fp16.
RATIO_METRICS = ("kv_ratio_vs_fp16", "kv_ratio")
LATENCY_METRICS = ("prefill_ms", "prefill_tok_s", "kv_bytes") + DECODE_METRICS + RATIO_METRICS
# Accuracy panels: these metrics when a task reports them (its table shows everything).
PLOT_METRICS = ["ppl", "kl_mean", "kl_p99", "top1_agree", "accuracy", "acc", "acc_norm", "exact_match",
                "exact_match_flexible"]
# Order of metrics in panels and tables (others follow alphabetically).
PREFERRED = PLOT_METRICS + ["prefill_ms", "prefill_tok_s", "decode_ms_per_token", "decode_ms_median",
                            "decode_ms_p90", "decode_tok_s", "kv_bytes", "kv_ratio", "kv_ratio_vs_fp16",
                            "kv_bytes_fp16", "weight_bytes", "peak_rss", "peak_rss_bytes", "device_peak_bytes"]
BAND_PERCENTILE_MIN_N = 10  # below this many repetitions the band is min-max (percentiles of few values mislead)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench report", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="results/bench.db", help="results database (default %(default)s)")
    ap.add_argument("--run", dest="runs", type=int, nargs="+", action="extend", metavar="ID",
                    help="run id(s) to report, together (default: the newest run); see `bench list runs`")
    ap.add_argument("--out", required=True, metavar="DIR", help="output folder (created when missing)")
    ap.add_argument("--title", help="page title (default: the suite name(s))")
    ap.add_argument("--thresholds", help="thresholds file (default reports/compare_thresholds.json); which way each "
                                         "metric is better comes from the database, as the tasks declare it")
    return ap.parse_args(argv)


def metric_order(names):
    return sorted(set(names), key=lambda m: (PREFERRED.index(m) if m in PREFERRED else len(PREFERRED), m))


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def fmt_value(v, unit="") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if unit == "bytes" or (float(v).is_integer() and abs(v) >= 1e4):
        return f"{int(round(v)):,}"
    return f"{v:.5g}"


def is_latency_config(cfg) -> bool:
    return any(m in LATENCY_METRICS and "context" in s.labels for (m, _), s in cfg.series.items())


class Report:
    def __init__(self, db: BenchDB, run_ids, out_dir: str, settings):
        self.db, self.out_dir, self.settings = db, out_dir, settings
        self.runs = [db.run(r) for r in run_ids]
        self.configs = [c for r in run_ids for c in db.configurations(r)]
        self.complete = [c for c in self.configs if c.status == "complete"]
        self.multi_run = len(run_ids) > 1
        self.multi_model = len({(c.model_sha256, c.model_storage) for c in self.configs}) > 1
        self.colors = method_colors(c.method for c in self.configs)
        variants = {}
        for c in self.configs:
            variants.setdefault(c.method, set()).add(self.line_name(c))
        self.styles = variant_styles(variants)
        self.problems = []      # (severity, text)
        self.figures = {"accuracy": [], "latency": []}
        self.notes = {"accuracy": [], "latency": []}

    # ---- naming ------------------------------------------------------------------------------------------------
    def line_name(self, cfg) -> str:
        name = cfg.variant
        if self.multi_model:
            name += f" @ {cfg.model_name or (cfg.model_sha256 or '')[:8]}[{cfg.model_storage}]"
        if self.multi_run:
            name += f" · run {cfg.run_id}"
        return name

    def style(self, cfg):
        ls, marker = self.styles.get((cfg.method, self.line_name(cfg)), ("-", "o"))
        return self.colors[cfg.method], ls, marker

    # ---- what is missing or failed -----------------------------------------------------------------------------
    def collect_problems(self):
        for run in self.runs:
            if run.get("status") == "running":
                self.problems.append(("warn", f"Run {run['id']} has not finished (interrupted, or still running "
                                              f"since {run.get('started_at')}): its unfinished configurations are "
                                              f"listed below."))
        for c in self.configs:
            where = f"#{c.plan_index + 1} {c.label}" + (f" (run {c.run_id})" if self.multi_run else "")
            if c.status == "failed":
                self.problems.append(("error", f"Failed: {where}: {c.error or 'no message stored'}"))
            elif c.status == "pending":
                self.problems.append(("warn", f"Missing: {where} never ran (the run was interrupted or is still "
                                              f"running; `bench run --resume` runs it)."))
            elif c.status == "running":
                self.problems.append(("warn", f"Missing: {where} did not finish (interrupted or still running)."))
            elif not c.series:
                self.problems.append(("warn", f"No results: {where} completed without storing any metric."))
        # Coverage: a method variant measured by some task but not by another (of the same run and model).
        by_task = {}
        for c in self.configs:
            by_task.setdefault((c.run_id, c.model_sha256, c.task), set()).add(c.variant)
        for (run, model, task), have in sorted(by_task.items(), key=lambda kv: str(kv[0])):
            others = set().union(*(v for (r, m, _), v in by_task.items() if r == run and m == model)) - have
            if others:
                self.problems.append(("warn", f"Not measured by task {task}" + (f" in run {run}" if self.multi_run
                                      else "") + ": " + ", ".join(sorted(others))))

    # ---- compression ratio for the accuracy plots ---------------------------------------------------------------
    def compression_map(self):
        """(run, method key) -> (factor, context, note): fp16 KV bytes / method KV bytes at the largest context the
        latency task measured, from its stored ratio (kv_ratio or kv_ratio_vs_fp16). The ratio's orientation is
        taken from the measured bytes when the configuration has them (kv_bytes against kv_bytes_fp16, or against
        the fp16 configuration's kv_bytes), else from its unit ("x": fp16 / method) or name (kv_ratio_vs_fp16:
        method / fp16). Without a stored ratio the bytes alone give it."""
        out = {}
        fp16_bytes = {}
        for c in self.complete:
            if c.method == "fp16":
                for (m, _), s in c.series.items():
                    if m == "kv_bytes" and set(s.labels) == {"context"}:
                        fp16_bytes[(c.run_id, c.model_sha256, s.labels["context"])] = s.center()
        for c in self.complete:
            found = {}
            for (m, _), s in c.series.items():
                if set(s.labels) != {"context"}:
                    continue
                L = s.labels["context"]
                if m in RATIO_METRICS and s.center() > 0:
                    found.setdefault(L, {})["ratio"] = s
                elif m in ("kv_bytes", "kv_bytes_fp16") and s.center() > 0:
                    found.setdefault(L, {})[m] = s.center()
            usable = {}
            for L, f in found.items():
                ref = f.get("kv_bytes_fp16") or fp16_bytes.get((c.run_id, c.model_sha256, L))
                measured = ref / f["kv_bytes"] if ref and f.get("kv_bytes") else None
                if "ratio" in f:
                    s = f["ratio"]
                    r = s.center()
                    if measured:
                        factor = r if abs(math.log(r / measured)) <= abs(math.log(r * measured)) else 1.0 / r
                    else:
                        factor = r if s.unit in ("x", "×") or s.metric == "kv_ratio" else 1.0 / r
                    usable[L] = (factor, s.metric)
                elif measured:
                    usable[L] = (measured, "kv_bytes")
            if usable:
                L = max(usable)
                out[(c.run_id, c.method_key)] = (usable[L][0], L, usable[L][1])
        return out

    def compression_for(self, cfg, cmap):
        got = cmap.get((cfg.run_id, cfg.method_key))
        if got is None:
            got = next((v for (run, mk), v in cmap.items() if mk == cfg.method_key), None)
        if got is None and cfg.method == "fp16":
            got = (1.0, None, "")  # the reference: 1× by definition
        return got

    # ---- figures -----------------------------------------------------------------------------------------------
    @staticmethod
    def better_of(cfgs, metric) -> str:
        """Which way `metric` is better, as its task declared it in the stored rows ("none" if no row says)."""
        for c in cfgs:
            for (m, _), s in c.series.items():
                if m == metric and s.better != "none":
                    return s.better
        return "none"

    def headline(self, cfg, metric):
        """(value, series count) of a metric for one configuration: its series with the fewest labels (wikitext2
        labels every metric with n_ctx/mode/step, passkey's overall accuracy carries its context), averaged when
        there are several at that level."""
        series = [s for (m, _), s in cfg.series.items() if m == metric]
        if not series:
            return None, 0
        fewest = min(len(s.labels) for s in series)
        top = [s for s in series if len(s.labels) == fewest]
        return float(np.mean([s.center() for s in top])), len(top)

    def accuracy_figures(self):
        cmap = self.compression_map()
        contexts = sorted({v[1] for v in cmap.values() if v[1] is not None})
        sources = sorted({v[2] for v in cmap.values() if v[2]})
        by_task = {}
        for c in self.complete:
            if is_latency_config(c) or not c.series:
                continue
            by_task.setdefault(c.task, []).append(c)
        if not by_task:
            self.notes["accuracy"].append("No accuracy results in the selected run(s).")
            return
        if not cmap:
            self.notes["accuracy"].append("No latency results with KV bytes or a KV ratio: only fp16 (1× by "
                                          "definition) can be placed on the compression axis; add the latency task "
                                          "to the suite.")
        at = ("at context " + ", ".join(f"{L:,}" for L in contexts) + " (the largest the latency task measured)"
              if contexts else "")
        xlabel = "KV-cache compression vs fp16 (×, fp16 bytes / method bytes)"
        for task, cfgs in sorted(by_task.items()):
            variants = {}
            for c in cfgs:
                variants.setdefault(c.options_text, (c.task_options, []))[1].append(c)
            # Options that differ between the task's variants (a sweep) name the panels; the rest go in the title.
            keys = sorted({k for opts, _ in variants.values() for k in opts})
            differ = [k for k in keys if len({repr(opts.get(k)) for opts, _ in variants.values()}) > 1]
            common = {k: v for k, v in next(iter(variants.values()))[0].items() if k not in differ}
            names = {m for c in cfgs for (m, _) in c.series}
            metrics = [m for m in PLOT_METRICS if m in names]
            if not metrics:  # a task this report does not know: its judged metrics, standard errors left out
                metrics = [m for m in metric_order(names) if self.better_of(cfgs, m) != "none"][:4]
            panels, missing_x, averaged = [], set(), set()
            for opts_text, (opts, group) in sorted(variants.items(), key=lambda kv: [repr(kv[1][0].get(k))
                                                                                     for k in differ]):
                suffix = ", ".join(f"{k}={_option_text(opts.get(k))}" for k in differ)
                for metric in metrics:
                    points, unit = [], ""
                    for c in group:
                        y, count = self.headline(c, metric)
                        if y is None:
                            continue
                        if count > 1:
                            averaged.add(metric)
                        unit = next(s.unit for (m, _), s in c.series.items() if m == metric)
                        comp = self.compression_for(c, cmap)
                        if comp is None:
                            missing_x.add(self.line_name(c))
                            continue
                        color, _, marker = self.style(c)
                        points.append({"method": c.method, "label": self.line_name(c), "color": color,
                                       "marker": marker, "x": comp[0], "y": y})
                    if not points and not any(self.headline(c, metric)[0] is not None for c in group):
                        continue
                    ylabel = f"{metric} ({unit})" if unit and unit != metric else metric
                    panels.append({"metric": metric + (f" · {suffix}" if suffix else ""), "ylabel": ylabel,
                                   "direction": self.better_of(group, metric), "points": points})
            if not panels:
                continue
            opts_title = ", ".join(f"{k}={_option_text(v)}" for k, v in sorted(common.items()))
            caption = (f"{task}" + (f" ({opts_title})" if opts_title else "") + ": one point per configuration; "
                       f"lines join each method's Pareto front (no other configuration of the method is both more "
                       f"compressed and better), the dotted line the front over all configurations, stacks included. Compression = fp16 KV bytes / method KV bytes, from the latency "
                       f"task's {' / '.join(sources) or 'results'} {at}.")
            if averaged:
                caption += " Averaged over their labels: " + ", ".join(sorted(averaged)) + "."
            if missing_x:
                caption += (" Not placed (no latency result for the same method and parameters): "
                            + ", ".join(sorted(missing_x)) + ".")
            title = f"{task}: accuracy vs KV compression"
            self.figures["accuracy"].append(
                plots.accuracy_figure(self.out_dir, f"accuracy-{slugify(task)}", title, panels, xlabel, caption))

    def latency_figures(self):
        lat = [c for c in self.complete if is_latency_config(c)]
        if not lat:
            self.notes["latency"].append("No latency results in the selected run(s): add the latency task to the "
                                         "suite for latency and KV-cache plots.")
            return
        decode = next((m for m in DECODE_METRICS if any(c.get(m, {"context": L}) is not None for c in lat
                                                          for L in _contexts(c))), DECODE_METRICS[0])
        specs = [("prefill_ms", "prefill-latency", "Prefill latency vs context length",
                  "prefill latency ({unit})", True),
                 (decode, "decode-latency", "Decode latency per token vs context length",
                  "decode latency per token ({unit})", True),
                 ("kv_bytes", "kv-cache-bytes", "KV-cache size held vs context length", "KV-cache size held (MiB)",
                  False),
                 ("kv_bytes_allocated", "kv-cache-bytes-allocated", "KV-cache memory allocated vs context length",
                  "KV-cache memory allocated (MiB)", False)]
        for metric, slug, title, ylabel, timed in specs:
            lines, ns, unit = [], [], ""
            for c in lat:
                pts = sorted(((s.labels["context"], s) for (m, _), s in c.series.items()
                              if m == metric and set(s.labels) == {"context"}), key=lambda t: t[0])
                if not pts:
                    continue
                unit = pts[0][1].unit or unit
                ns += [s.n for _, s in pts]
                color, ls, marker = self.style(c)
                lines.append({"label": self.line_name(c), "color": color, "linestyle": ls, "marker": marker,
                              "x": [L for L, _ in pts], "series": [s for _, s in pts]})
            if not lines:
                if metric != "kv_bytes_allocated":  # databases from before the figure existed lack it
                    self.notes["latency"].append(f"No {metric} results in the latency configurations.")
                continue
            percentile = timed and min(ns) >= BAND_PERCENTILE_MIN_N
            scale = 1.0 / (1024 * 1024) if metric.startswith("kv_bytes") else 1.0
            for ln in lines:
                vals = [np.asarray(s.values) * scale for s in ln.pop("series")]
                ln["y"] = [float(np.median(v)) for v in vals]
                if timed and max(ns) > 1:
                    q = (10, 90) if percentile else (0, 100)
                    ln["lo"] = [float(np.percentile(v, q[0])) for v in vals]
                    ln["hi"] = [float(np.percentile(v, q[1])) for v in vals]
            lines.sort(key=lambda ln: ln["label"])
            if timed:
                band = ("p10–p90" if percentile else "min–max") + " of the repetitions"
                caption = (f"{title} ({metric}): median of the stored repetitions (n = {min(ns)}" +
                           (f"–{max(ns)}" if max(ns) != min(ns) else "") + f" per point); band: {band}.")
            elif metric == "kv_bytes":
                caption = (f"{title}: the bytes of the state the cache holds (codes, scales, zero points, indices, "
                           f"full-precision windows) at each context length, from its own accounting.")
            else:
                caption = (f"{title}: the capacity the cache's storage has reserved (vector capacities, device "
                           f"buffers) at each context length; at least the bytes held.")
            self.figures["latency"].append(
                plots.lines_figure(self.out_dir, slug, title, "context length (tokens)",
                                   ylabel.format(unit=unit or "ms"), lines, caption, band=timed))

    # ---- tables ------------------------------------------------------------------------------------------------
    def task_tables(self) -> str:
        """A table per task. Rows: configuration x the values of its row labels; columns: metrics. Label keys with
        one value across the task are left out (the caption lists them); keys most metrics carry (latency's context)
        make rows; keys few metrics carry (kv_bytes_part's part, passkey's depth_percent) go into the column name."""
        out = []
        tasks = []
        for c in self.configs:
            if c.task not in tasks:
                tasks.append(c.task)
        for task in tasks:
            cfgs = [c for c in self.configs if c.task == task]
            all_series = [s for c in cfgs for s in c.series.values()]
            values = {}
            for s in all_series:
                for k, v in s.labels.items():
                    values.setdefault(k, set()).add(repr(v))
            constant = {k for k, v in values.items() if len(v) == 1}
            metric_names = {s.metric for s in all_series}
            carriers = {k: {s.metric for s in all_series if k in s.labels} for k in values}
            row_keys = sorted(k for k in values if k not in constant and 2 * len(carriers[k]) >= len(metric_names))

            def column_of(s):
                extra = {k: v for k, v in s.labels.items() if k not in constant and k not in row_keys}
                return f"{s.metric}[{labels_text(extra)}]" if extra else s.metric

            units, extras = {}, {}
            for s in all_series:
                units.setdefault(column_of(s), s.unit)
                extras.setdefault(column_of(s), sorted((k, v) for k, v in s.labels.items()
                                                       if k not in constant and k not in row_keys))
            order = metric_order(metric_names)
            columns = sorted(units, key=lambda col: (order.index(col.split("[")[0]),
                                                     [(k, _num_or_inf(v), str(v)) for k, v in extras[col]]))
            opt_keys = sorted({k for c in cfgs for k in c.task_options
                               if len({repr(x.task_options.get(k)) for x in cfgs}) > 1} - set(row_keys))
            headers = (["run"] if self.multi_run else []) + ["method", "params"] + \
                (["options"] if opt_keys else []) + row_keys + \
                [f"{col} ({units[col]})" if units[col] else col for col in columns] + ["status"]
            rows, classes = [], []
            for c in cfgs:
                lead = ([{"text": c.run_id, "v": c.run_id}] if self.multi_run else []) + \
                       [c.method, c.params_shown] + \
                       ([params_text({k: c.task_options.get(k) for k in opt_keys})] if opt_keys else [])
                status = {"text": c.status, "title": c.error or ""}
                grouped = {}
                for s in c.series.values():
                    rk = tuple(s.labels.get(k) for k in row_keys)
                    grouped.setdefault(rk, {})[column_of(s)] = s
                if not grouped:
                    grouped = {tuple(None for _ in row_keys): {}}
                for rk in sorted(grouped, key=lambda t: [(_num_or_inf(v), str(v)) for v in t]):
                    cells = list(lead)
                    for v in rk:
                        cells.append({"text": "" if v is None else v, "cls": "num",
                                      "v": v if isinstance(v, (int, float)) and not isinstance(v, bool) else None})
                    cells += [_metric_cell(grouped[rk].get(col)) for col in columns]
                    cells.append(status)
                    rows.append(cells)
                    classes.append(f"status-{c.status}")
            const_text = ", ".join(f"{k}={_option_text(v)}" for k, v in sorted(
                {k: s.labels[k] for s in all_series for k in s.labels if k in constant}.items()))
            caption = ("Repeated measurements show the median; hover a cell for n, p10–p90, min–max and CV. "
                       "Click a header to sort." + (f" Labels the same on every row: {const_text}." if const_text
                                                    else ""))
            out.append(f'<h3 id="table-{slugify(task)}-h">{esc(task)}</h3>')
            out.append(table_html(f"table-{slugify(task)}", headers, rows, row_classes=classes, caption=caption))
        return "".join(out)

    def configurations_table(self) -> str:
        headers = (["run"] if self.multi_run else []) + ["#", "task", "options", "method", "params", "status",
                                                         "wall (s)", "message", "comparison key"]
        rows, classes = [], []
        for c in self.configs:
            rows.append(([c.run_id] if self.multi_run else []) + [
                {"text": c.plan_index + 1, "v": c.plan_index + 1, "cls": "num"}, c.task, c.options_text, c.method,
                c.params_shown, c.status,
                {"text": fmt_value(c.wall_s) if c.wall_s is not None else "", "v": c.wall_s, "cls": "num"},
                c.error or "", {"text": (c.comparison_key or "")[:12], "title": c.comparison_key, "cls": "mono"}])
            classes.append(f"status-{c.status}")
        return table_html("configurations", headers, rows, row_classes=classes)

    def metadata_html(self) -> str:
        fields = [("suite", "suite_name"), ("suite file", "suite_path"), ("suite sha256", "suite_sha256"),
                  ("status", "status"), ("started", "started_at"), ("ended", "ended_at"), ("git commit", "git_commit"),
                  ("git dirty", "git_dirty"), ("bench version", "bench_version"), ("build id", "build_id"),
                  ("compiler", "compiler"), ("build type", "build_type"), ("build flags", "build_flags"),
                  ("CPU", "cpu_model"), ("CPU cores", "cpu_cores"), ("GPU", "gpu_model"), ("GPU driver", "gpu_driver"),
                  ("CUDA", "cuda_version"), ("OS", "os"), ("host", "host"), ("device", "device"),
                  ("threads", "threads"), ("seed", "seed"), ("data root", "data_root"),
                  ("command line", "command_line")]
        out = []
        for run in self.runs:
            rows = []
            for label, col in fields:
                v = run.get(col)
                if col == "git_dirty" and v is not None:
                    v = "yes (uncommitted changes)" if v else "no"
                rows.append([label, {"text": "" if v is None else v,
                                     "cls": "mono" if col.endswith("sha256") or col in ("git_commit", "build_id") else ""}])
            out.append(f"<h3>Run {run['id']}</h3>" + table_html(f"run-{run['id']}-metadata", ["field", "value"], rows,
                                                                 sortable=False))
        models = {}
        for c in self.configs:
            models.setdefault((c.model_sha256, c.model_storage), (c.model_name, c.model_path))
        rows = [[name or "", path or "", storage or "", {"text": sha or "", "cls": "mono"}]
                for (sha, storage), (name, path) in sorted(models.items(), key=lambda kv: str(kv[0]))]
        out.append("<h3>Models</h3>" + table_html("models", ["name", "path", "weights", "sha256"], rows, sortable=False))
        files = {}
        for c in self.configs:
            for f in c.dataset_files or []:
                if isinstance(f, dict):
                    files.setdefault((f.get("path"), f.get("sha256")), set()).add(c.task)
        rows = [[path or "", ", ".join(sorted(tasks)), {"text": sha or "", "cls": "mono"}]
                for (path, sha), tasks in sorted(files.items(), key=lambda kv: str(kv[0]))]
        out.append("<h3>Datasets</h3>" + (table_html("datasets", ["file", "tasks", "sha256"], rows, sortable=False)
                                          if rows else '<p class="note">No task read a data file.</p>'))
        return "".join(out)

    # ---- the page ----------------------------------------------------------------------------------------------
    def render(self, title=None) -> str:
        self.collect_problems()
        self.accuracy_figures()
        self.latency_figures()
        suites = sorted({r.get("suite_name") or "?" for r in self.runs})
        title = title or "BenchPress report: " + ", ".join(suites)
        counts = {}
        for c in self.configs:
            counts[c.status] = counts.get(c.status, 0) + 1
        runs = ", ".join(f"run {r['id']} ({(r.get('git_commit') or '?')[:12]}, {r.get('started_at')})"
                         for r in self.runs)
        subtitle = (f"{runs} · {len(self.configs)} configurations: " +
                    ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) +
                    f" · generated {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
        body = []
        errors = [t for sev, t in self.problems if sev == "error"]
        warns = [t for sev, t in self.problems if sev != "error"]
        body.append('<section id="problems"><h2>Missing and failed</h2>')
        if self.problems:
            body.append(f'<div class="problems"><p><b>{len(errors)} failed, {len(warns)} other problem(s).</b> '
                        f'The plots and tables below show what did complete.</p><ul>' +
                        "".join(f'<li class="problem-{"error" if t in errors else "warn"}">{esc(t)}</li>'
                                for t in errors + warns) + "</ul></div>")
        else:
            body.append(f'<div class="problems ok"><p>All {len(self.configs)} configurations completed; every '
                        f'task measured every method.</p></div>')
        body.append("</section>")
        for key, anchor, heading in (("accuracy", "accuracy", "Accuracy vs KV compression"),
                                     ("latency", "latency", "Latency and memory")):
            body.append(f'<section id="{anchor}"><h2>{heading}</h2>')
            body += [f'<p class="note">{esc(n)}</p>' for n in self.notes[key]]
            body.append('<div class="figures">' + "".join(figure_html(w, self.out_dir) for w in self.figures[key])
                        + "</div></section>")
        body.append('<section id="tables"><h2>Results by task</h2>' + self.task_tables() + "</section>")
        body.append('<section id="configurations-section"><h2>Configurations</h2>' + self.configurations_table()
                    + "</section>")
        body.append('<section id="metadata"><h2>Run metadata</h2>' + self.metadata_html() + "</section>")
        nav = [("problems", "Missing/failed"), ("accuracy", "Accuracy"), ("latency", "Latency & memory"),
               ("tables", "Tables"), ("configurations-section", "Configurations"), ("metadata", "Metadata")]
        return page(title, subtitle, nav, "".join(body))


def _contexts(cfg):
    return sorted({s.labels["context"] for s in cfg.series.values() if set(s.labels) == {"context"}})


def _option_text(v) -> str:
    return params_text({"_": v}).split("=", 1)[1]


def _num_or_inf(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.inf


def _metric_cell(s):
    if s is None:
        return {"text": "", "cls": "num"}
    if s.n > 1:
        v = np.asarray(s.values)
        title = (f"n={s.n} · p10–p90 {fmt_value(np.percentile(v, 10), s.unit)}–{fmt_value(np.percentile(v, 90), s.unit)}"
                 f" · min–max {fmt_value(v.min(), s.unit)}–{fmt_value(v.max(), s.unit)}")
        if s.summary and s.summary.get("cv") is not None:
            title += f" · CV {100 * s.summary['cv']:.1f}%"
        return {"text": fmt_value(s.center(), s.unit), "v": s.center(), "title": title, "cls": "num"}
    return {"text": fmt_value(s.center(), s.unit), "v": s.center(), "cls": "num"}


def build_report(db_path, run_ids, out_dir, title=None, thresholds=None) -> dict:
    db = BenchDB(db_path)
    try:
        runs = resolve_runs(db, run_ids)
        settings = load_settings(thresholds)
        os.makedirs(out_dir, exist_ok=True)
        rep = Report(db, runs, out_dir, settings)
        text = rep.render(title)
        path = os.path.join(out_dir, "report.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        figures = rep.figures["accuracy"] + rep.figures["latency"]
        return {"html": path, "runs": runs, "figures": [(w.png, w.svg) for w in figures],
                "problems": [t for _, t in rep.problems]}
    finally:
        db.close()


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        res = build_report(args.db, args.runs, args.out, args.title, args.thresholds)
    except (DatabaseError, SettingsError) as e:
        print(f"bench report: error: {e}", file=sys.stderr)
        return 2
    print(f"report: {res['html']} (run {', '.join(map(str, res['runs']))}; {len(res['figures'])} plots as PNG and SVG"
          f"{'; ' + str(len(res['problems'])) + ' problem(s) listed' if res['problems'] else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
