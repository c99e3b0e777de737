#!/usr/bin/env python3
"""`bench compare BASE HEAD`: line up the identical configurations of two runs and judge every metric.

Runs directly too: python3 reports/compare.py BASE HEAD [options] (same arguments as `bench compare`).
The statistics are in verdicts.py; reports/README.md documents the rules and the thresholds file.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import sys

if __package__ in (None, ""):
    # Run as a script: import the package from the repository root, and keep this folder off sys.path so its
    # module names cannot shadow anything.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

import numpy as np

from reports import verdicts as V
from reports.benchdb import BenchDB, DatabaseError, labels_text

DESCRIPTION = """\
Lines up the configurations of two runs that measured the same thing (same method and canonical parameters, model
file and weight storage, task with its options and dataset files, protocol and version: the stored comparison_key)
and prints, for every metric: base, head, ratio, and a verdict: better, worse, same (within noise) or ambiguous (too
noisy to tell). Repeated timings: Mann-Whitney U + bootstrap CI of the ratio of medians; 1/0 per-item results:
McNemar's exact test; per-token NLL: paired bootstrap + Wilcoxon; single values: the threshold alone. Thresholds
and directions per metric: reports/compare_thresholds.json (--thresholds FILE replaces it); see reports/README.md.

BASE and HEAD are each
  RUN          a run id in --db (or --base-db / --head-db for that side)
  FILE.db      the newest run in that database file
  FILE.db:RUN  run RUN in that database file
Configurations present on one side only are listed. A configuration that completed in BASE but failed (or never
ran) in HEAD counts as a regression.

Exit codes: 0 no regression; 1 some metric is worse past its threshold (with --fail-on ambiguous, also any
ambiguous verdict); 2 bad usage, a missing database or run, or an invalid thresholds file."""


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench compare", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", metavar="BASE", help="base run: RUN, FILE.db or FILE.db:RUN")
    ap.add_argument("head", metavar="HEAD", help="head run: RUN, FILE.db or FILE.db:RUN")
    ap.add_argument("--db", default="results/bench.db", help="database for bare run ids (default %(default)s)")
    ap.add_argument("--base-db", help="database of BASE (overrides --db for that side)")
    ap.add_argument("--head-db", help="database of HEAD (overrides --db for that side)")
    ap.add_argument("--thresholds", help="thresholds file (default reports/compare_thresholds.json)")
    ap.add_argument("--fail-on", choices=("worse", "ambiguous"), default="worse",
                    help="exit 1 on any 'worse' verdict (default), or on 'worse' or 'ambiguous'")
    ap.add_argument("--format", choices=("text", "md", "json"), default="text",
                    help="what is printed on stdout: a terminal table (default), markdown (a CI comment) or JSON")
    ap.add_argument("--show", choices=("all", "changes"), default="all",
                    help="table rows: every comparison (default) or only those not 'same'")
    ap.add_argument("--out-md", metavar="FILE", help="also write the markdown to FILE")
    ap.add_argument("--out-json", metavar="FILE", help="also write the comparison as JSON to FILE")
    return ap.parse_args(argv)


def parse_side(spec: str, side_db: str | None, default_db: str):
    """(database path, run id or None for the newest run) of one side."""
    if spec.isdigit() and not os.path.isfile(spec):
        return side_db or default_db, int(spec)
    path, sep, run = spec.rpartition(":")
    if sep and run.isdigit() and path:
        return path, int(run)
    if side_db:
        raise DatabaseError(f"{spec!r}: expected a run id when --base-db/--head-db names the database")
    return spec, None


# ---- per-item results ------------------------------------------------------------------------------------------

def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _same_value(a, b) -> bool:
    if _is_number(a) and _is_number(b):
        return float(a) == float(b)
    return a == b


def _close(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-6 * max(abs(a), abs(b)) + 1e-12


def _cluster_of(key: str, detail):
    """Which chunk an item belongs to (for resampling whole chunks): detail["chunk"], else the key up to its last
    '/' ("12/300" is token 300 of chunk 12)."""
    if isinstance(detail, dict) and "chunk" in detail:
        return json.dumps(detail["chunk"])
    return key.rsplit("/", 1)[0] if "/" in key else None


def item_mapping(cfg, series):
    """The per-item values behind a metric, found from the data rather than assumed. Items are narrowed to those
    whose detail matches the metric's labels (label keys no item's detail has qualify the whole configuration, e.g.
    wikitext2's n_ctx). Candidate values, in order: detail[metric], the score of items keyed "<metric>/...", the
    score, then every other numeric detail field; the first whose mean equals the metric (accuracy, mean KL), or
    whose exp(mean) does (perplexity from per-token NLL), is taken.
    Returns (kind, {key: value}, {key: cluster} or None) or None when nothing matches."""
    items = cfg.items()
    if not items or series.n != 1:
        return None
    target = series.center()
    detail_keys = set()
    for _, d in items.values():
        if isinstance(d, dict):
            detail_keys.update(d)
    labels = {k: v for k, v in series.labels.items() if k in detail_keys}
    sub = {k: (s, d) for k, (s, d) in items.items()
           if all(isinstance(d, dict) and k2 in d and _same_value(d[k2], v) for k2, v in labels.items())}
    if len(sub) < 2:
        return None
    dicts = [d for _, d in sub.values()]
    numeric = sorted(k for k in detail_keys
                     if all(isinstance(d, dict) and _is_number(d.get(k)) for d in dicts) and k not in labels)
    candidates = []
    if series.metric in numeric:
        candidates.append({k: float(d[series.metric]) for k, (_, d) in sub.items()})
    prefixed = {k: s for k, (s, _) in sub.items() if k.startswith(series.metric + "/")}
    if len(prefixed) >= 2:
        candidates.append(prefixed)
    candidates.append({k: s for k, (s, _) in sub.items()})
    candidates += [{k: float(d[f]) for k, (_, d) in sub.items()} for f in numeric if f != series.metric]
    for values in candidates:
        arr = np.fromiter(values.values(), dtype=float)
        mean = float(arr.mean())
        if _close(mean, target):
            kind = "binary" if np.all((arr == 0) | (arr == 1)) else "mean"
        elif mean < 700 and _close(math.exp(mean), target):
            kind = "exp-mean"
        else:
            continue
        clusters = {k: _cluster_of(k, sub[k][1]) for k in values}
        if any(c is None for c in clusters.values()):
            clusters = None
        return kind, values, clusters
    return None


def declared_better(bs, hs) -> str:
    """The metric's declared direction: the head's, else the base's (an older database may not record it)."""
    return hs.better if hs.better != "none" else bs.better


def compare_series(bcfg, bs, hcfg, hs, settings: V.Settings):
    rule = settings.rule_for(bs.metric, declared_better(bs, hs))
    rng = V.rng_for(bcfg.comparison_key, bs.metric, labels_text(bs.labels))
    if bs.n >= 2 and hs.n >= 2:
        return V.compare_repeated(bs.values, hs.values, rule, settings, rng)
    bm, hm = item_mapping(bcfg, bs), item_mapping(hcfg, hs)
    if bm and hm and bm[0] == hm[0]:
        keys = sorted(set(bm[1]) & set(hm[1]))
        if len(keys) >= 2:
            b = np.array([bm[1][k] for k in keys])
            h = np.array([hm[1][k] for k in keys])
            if bm[0] == "binary":
                out = V.compare_binary_items(b, h, rule, settings, rng)
            else:
                clusters = [bm[2][k] for k in keys] if bm[2] else None
                out = V.compare_mean_items(b, h, rule, settings, rng, exp_mean=bm[0] == "exp-mean", clusters=clusters)
            unpaired = len(bm[1]) + len(hm[1]) - 2 * len(keys)
            if unpaired:
                out.note = (out.note + "; " if out.note else "") + f"{unpaired} item(s) on one side only left out"
            # Report the stored metric values; the test ran on the paired items.
            out.base, out.head = bs.center(), hs.center()
            return out
    out = V.compare_single(bs.center(), hs.center(), rule)
    out.n_base, out.n_head = bs.n, hs.n
    return out


# ---- lining up ---------------------------------------------------------------------------------------------------

def load_side(spec, side_db, default_db):
    path, run_id = parse_side(spec, side_db, default_db)
    db = BenchDB(path)
    run_id = run_id if run_id is not None else db.latest_run_id()
    run = db.run(run_id)
    return {"db": db, "path": path, "run": run, "configs": db.configurations(run_id)}


def _by_key(configs):
    out = {}
    for c in configs:
        # One run holds a comparison key once; should a database hold it twice, the complete one is used.
        if c.comparison_key not in out or (c.status == "complete" and out[c.comparison_key].status != "complete"):
            out[c.comparison_key] = c
    return out


def _status_text(cfg) -> str:
    if cfg.status == "failed":
        return "failed: " + (cfg.error or "no message")
    if cfg.status == "pending":
        return "never ran (run interrupted or still running)"
    if cfg.status == "running":
        return "did not finish (run interrupted or still running)"
    return cfg.status


def compare_runs(base, head, settings: V.Settings) -> dict:
    bmap, hmap = _by_key(base["configs"]), _by_key(head["configs"])
    rows, only_base, only_head, metric_only = [], [], [], []
    order = [c.comparison_key for c in base["configs"]] + [c.comparison_key for c in head["configs"]]
    seen = set()
    for key in order:
        if key in seen:
            continue
        seen.add(key)
        b, h = bmap.get(key), hmap.get(key)
        if h is None:
            only_base.append(_config_ref(b))
            continue
        if b is None:
            only_head.append(_config_ref(h))
            continue
        label = h.label or b.label
        if b.status != "complete" or h.status != "complete":
            if b.status == "complete":
                verdict, note = "worse", "HEAD " + _status_text(h)
            elif h.status == "complete":
                verdict, note = "better", "BASE " + _status_text(b) + "; complete in HEAD"
            else:
                verdict, note = "same", "not complete on either side (HEAD " + _status_text(h) + ")"
            rows.append({"configuration": label, "comparison_key": key, "metric": "(configuration)", "labels": {},
                         "unit": "", "base": b.status, "head": h.status, "verdict": verdict, "note": note,
                         "test": "status", "ratio": None, "scale": None, "estimate": None, "ci": [None, None],
                         "p": None})
            continue
        for skey in sorted(set(b.series) | set(h.series)):
            bs, hs = b.series.get(skey), h.series.get(skey)
            if bs is None or hs is None:
                s = bs or hs
                metric_only.append({"configuration": label, "metric": s.metric, "labels": s.labels,
                                    "side": "base" if hs is None else "head"})
                continue
            out = compare_series(b, bs, h, hs, settings)
            rule = settings.rule_for(bs.metric, declared_better(bs, hs))
            rows.append({"configuration": label, "comparison_key": key, "metric": bs.metric, "labels": bs.labels,
                         "unit": bs.unit, "direction": rule.direction, "threshold": {"rel": rule.rel, "abs": rule.abs},
                         **out.as_dict()})
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in V.VERDICTS}
    return {"rows": rows, "only_in_base": only_base, "only_in_head": only_head, "metric_on_one_side": metric_only,
            "counts": counts}


def _config_ref(cfg) -> dict:
    return {"configuration": cfg.label, "method": cfg.method, "task": cfg.task, "status": cfg.status,
            "comparison_key": cfg.comparison_key}


# ---- output ------------------------------------------------------------------------------------------------------

def _num(v, unit="") -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if not math.isfinite(v):
        return str(v)
    if unit == "bytes" or (float(v).is_integer() and abs(v) >= 1e4):
        return f"{int(round(v)):,}"
    return f"{v:.6g}"


def _change(r) -> tuple:
    """(change, CI) as text: percent for ratio-scale comparisons, signed difference otherwise."""
    if r.get("scale") is None or r.get("estimate") is None:
        return "-", "-"
    lo, hi = r["ci"]
    if r["scale"] == "ratio":
        pct = lambda x: "-" if x is None else f"{(x - 1) * 100:+.2f}%"
        return pct(r["estimate"]), f"[{pct(lo)}, {pct(hi)}]"
    if r["test"].startswith("single") or r["test"].startswith("constant"):
        base = r.get("base")
        rel = f" ({(r['head'] / base - 1) * 100:+.2f}%)" if isinstance(base, (int, float)) and base else ""
        return f"{r['estimate']:+.4g}{rel}", "-"
    diff = lambda x: "-" if x is None else f"{x:+.4g}"
    return diff(r["estimate"]), f"[{diff(lo)}, {diff(hi)}]"


def _metric_name(r) -> str:
    lt = labels_text(r["labels"])
    return f"{r['metric']}[{lt}]" if lt else r["metric"]


def table_rows(result, show):
    out = []
    for r in result["rows"]:
        if show == "changes" and r["verdict"] == "same":
            continue
        change, ci = _change(r)
        p = r.get("p")
        ratio = r.get("ratio")
        out.append([r["configuration"], _metric_name(r), _num(r["base"], r.get("unit", "")),
                    _num(r["head"], r.get("unit", "")), "-" if ratio is None else f"{ratio:.4f}", change, ci,
                    "-" if p is None else f"{p:.2g}", r["verdict"], r.get("note", "")])
    return out


LEGEND = ("ratio: head/base (medians for repeated timings); change, CI: the tested estimate (Hodges-Lehmann for "
          "timings, paired difference or ratio for per-item results)")
HEADERS = ["configuration", "metric", "base", "head", "ratio", "change", "CI", "p", "verdict", "note"]


def _side_text(side) -> str:
    run = side["run"]
    commit = (run.get("git_commit") or "?")[:12] + ("+dirty" if run.get("git_dirty") else "")
    where = run.get("gpu_model") or run.get("cpu_model") or ""
    return (f"run {run['id']} of {side['path']} (suite {run.get('suite_name')}, commit {commit}, "
            f"{run.get('started_at')}, {where})")


def summary_line(result, fail_on, exit_code) -> str:
    c = result["counts"]
    parts = [f"{c['worse']} worse", f"{c['better']} better", f"{c['same']} same", f"{c['ambiguous']} ambiguous"]
    s = f"{len(result['rows'])} comparison(s): " + ", ".join(parts)
    if result["only_in_base"] or result["only_in_head"]:
        s += f"; {len(result['only_in_base'])} configuration(s) only in BASE, {len(result['only_in_head'])} only in HEAD"
    return s + f". fail on: {fail_on} -> {'REGRESSION' if exit_code else 'OK'}"


def render_text(result, base, head, settings, show, fail_on, exit_code) -> str:
    lines = [f"BASE {_side_text(base)}", f"HEAD {_side_text(head)}",
             f"thresholds: {settings.path}; alpha {settings.alpha}, {settings.confidence:.0%} CIs", LEGEND, ""]
    rows = table_rows(result, show)
    if rows:
        widths = [max(len(HEADERS[i]), *(len(r[i]) for r in rows)) for i in range(len(HEADERS))]
        widths[0] = min(widths[0], 60)
        fmt = lambda cells: "  ".join(c[:widths[i]].ljust(widths[i]) if i < len(cells) - 1 else c
                                      for i, c in enumerate(cells)).rstrip()
        lines.append(fmt(HEADERS))
        lines.append(fmt(["-" * w for w in widths]))
        prev = None
        for r in rows:
            cells = list(r)
            if cells[0] == prev:
                cells[0] = ""
            else:
                prev = cells[0]
            lines.append(fmt(cells))
    else:
        lines.append("(no comparisons to show)" if result["rows"] else "(no configuration in common)")
    lines += _one_side_lines(result)
    lines += ["", summary_line(result, fail_on, exit_code)]
    return "\n".join(lines) + "\n"


def _one_side_lines(result) -> list:
    lines = []
    for key, side in (("only_in_base", "BASE"), ("only_in_head", "HEAD")):
        if result[key]:
            lines += ["", f"configurations only in {side} ({len(result[key])}):"]
            lines += [f"  {c['configuration']} [{c['status']}]" for c in result[key]]
    if result["metric_on_one_side"]:
        lines += ["", "metrics reported on one side only:"]
        lines += [f"  {m['configuration']}: {_metric_name(m)} (only in {m['side'].upper()})"
                  for m in result["metric_on_one_side"]]
    return lines


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _md_table(rows) -> list:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in rows:
        cells = [_md_escape(c) for c in r]
        if cells[8] in ("worse", "ambiguous", "better"):
            cells[8] = f"**{cells[8]}**"
        out.append("| " + " | ".join(cells) + " |")
    return out


def render_md(result, base, head, settings, show, fail_on, exit_code) -> str:
    lines = ["## bench compare", "", f"- BASE: {_md_escape(_side_text(base))}", f"- HEAD: {_md_escape(_side_text(head))}",
             f"- thresholds: `{os.path.basename(settings.path)}`, alpha {settings.alpha}, "
             f"{settings.confidence:.0%} confidence intervals", f"- {LEGEND}", "",
             f"**{summary_line(result, fail_on, exit_code)}**", ""]
    changed = table_rows(result, "changes")
    if changed:
        lines += ["### Not the same", ""] + _md_table(changed) + [""]
    if show == "all" and result["rows"]:
        lines += ["<details><summary>All comparisons</summary>", ""] + _md_table(table_rows(result, "all")) + \
                 ["", "</details>", ""]
    extra = _one_side_lines(result)
    if extra:
        lines += ["```"] + [l for l in extra if l] + ["```", ""]
    return "\n".join(lines)


def exit_code_for(result, fail_on) -> int:
    bad = {"worse"} if fail_on == "worse" else {"worse", "ambiguous"}
    return 1 if any(r["verdict"] in bad for r in result["rows"]) else 0


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = V.load_settings(args.thresholds)
        base = load_side(args.base, args.base_db, args.db)
        head = load_side(args.head, args.head_db, args.db)
    except (DatabaseError, V.SettingsError) as e:
        print(f"bench compare: error: {e}", file=sys.stderr)
        return 2
    result = compare_runs(base, head, settings)
    code = exit_code_for(result, args.fail_on)
    if not result["rows"] and not result["only_in_base"] and not result["only_in_head"]:
        print("bench compare: warning: neither run has configurations", file=sys.stderr)
    elif not result["rows"]:
        print("bench compare: warning: no configuration is in both runs (different suites, models or data?)",
              file=sys.stderr)
    doc = {"base": {"db": base["path"], "run": base["run"]["id"]}, "head": {"db": head["path"], "run": head["run"]["id"]},
           "thresholds": settings.path, "fail_on": args.fail_on, "exit_code": code,
           "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **result}
    md = render_md(result, base, head, settings, args.show, args.fail_on, code)
    if args.format == "text":
        sys.stdout.write(render_text(result, base, head, settings, args.show, args.fail_on, code))
    elif args.format == "md":
        sys.stdout.write(md)
    else:
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    for path, text in ((args.out_md, md), (args.out_json, json.dumps(doc, indent=1) + "\n")):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
