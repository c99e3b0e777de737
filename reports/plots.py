"""Matplotlib figures of the report, drawn from plain data (report.py shapes the database into it).

Every figure gets a title, axis labels with units and a legend, and is written as PNG and SVG.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

# Text in SVGs stays text (smaller files, selectable), and the output does not depend on the date.
matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "benchpress", "font.size": 9,
                            "axes.titlesize": 10, "legend.fontsize": 8, "axes.grid": True, "grid.alpha": 0.3})


@dataclass
class Written:
    slug: str
    title: str
    caption: str
    png: str
    svg: str


def _save(fig, out_dir: str, slug: str, title: str, caption: str) -> Written:
    png = os.path.join(out_dir, slug + ".png")
    svg = os.path.join(out_dir, slug + ".svg")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return Written(slug, title, caption, png, svg)


def _context_axis(ax, xs):
    ax.set_xscale("log", base=2)
    ticks = sorted(set(xs))
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}" if v >= 1 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    if ticks:
        ax.set_xlim(ticks[0] / 1.3, ticks[-1] * 1.3)


def _maybe_log_y(ax, ys):
    pos = [y for y in ys if y is not None and y > 0 and math.isfinite(y)]
    if len(pos) >= 2 and max(pos) / min(pos) > 20:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def _legend(ax, n):
    if n:
        ax.legend(loc="best", frameon=True, framealpha=0.85, ncol=1 if n <= 8 else 2)


def lines_figure(out_dir, slug, title, xlabel, ylabel, lines, caption, band=True) -> Written:
    """Lines over context length. lines: [{label, color, linestyle, marker, x, y, lo, hi}] (lo/hi: the band)."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    xs, ys = [], []
    for ln in lines:
        ax.plot(ln["x"], ln["y"], color=ln["color"], linestyle=ln["linestyle"], marker=ln["marker"], markersize=4,
                linewidth=1.6, label=ln["label"])
        if band and ln.get("lo") is not None:
            ax.fill_between(ln["x"], ln["lo"], ln["hi"], color=ln["color"], alpha=0.15, linewidth=0)
            ys += list(ln["lo"]) + list(ln["hi"])
        xs += list(ln["x"])
        ys += list(ln["y"])
    _context_axis(ax, xs)
    _maybe_log_y(ax, ys)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax, len(lines))
    return _save(fig, out_dir, slug, title, caption)


def pareto_front(points, higher_is_better: bool):
    """Points (x = compression, larger is better; y = the metric) that no other point beats on both, by x."""
    def at_least(a, b):
        return a >= b if higher_is_better else a <= b

    def strictly(a, b):
        return a > b if higher_is_better else a < b

    front = [p for p in points
             if not any(q[0] >= p[0] and at_least(q[1], p[1]) and (q[0] > p[0] or strictly(q[1], p[1]))
                        for q in points)]
    return sorted(set(front))


OVERALL_FRONT_LABEL = "Pareto front over all configurations"


def accuracy_figure(out_dir, slug, title, panels, xlabel, caption) -> Written:
    """One panel per metric: a point per configuration, each method's Pareto front as a line, and the front over
    every configuration (stacks included) as a dotted line.
    panels: [{metric, ylabel, direction, points: [{method, label, color, marker, x, y}]}]"""
    n = len(panels)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.0 * rows), squeeze=False)
    handles = {}
    for ax, panel in zip(axes.ravel(), panels):
        higher = panel["direction"] == "higher"
        by_method = {}
        for p in panel["points"]:
            h = ax.scatter([p["x"]], [p["y"]], color=p["color"], marker=p["marker"], s=36, zorder=3,
                           edgecolors="white", linewidths=0.5)
            handles.setdefault(p["label"], h)
            by_method.setdefault(p["method"], []).append((p["x"], p["y"], p["color"]))
        for method, pts in by_method.items():
            if panel["direction"] in ("higher", "lower") and len(pts) > 1:
                front = pareto_front([(x, y) for x, y, _ in pts], higher)
                if len(front) > 1:
                    ax.plot([f[0] for f in front], [f[1] for f in front], color=pts[0][2], linewidth=1.2, alpha=0.8,
                            zorder=2)
        # The front over every configuration of the panel, stacks of methods included: what the run as a whole
        # offers at each compression.
        if panel["direction"] in ("higher", "lower") and len(by_method) > 1:
            front = pareto_front([(p["x"], p["y"]) for p in panel["points"]], higher)
            if len(front) > 1:
                (line,) = ax.plot([f[0] for f in front], [f[1] for f in front], color="#444444", linestyle=":",
                                  linewidth=1.6, zorder=1)
                handles.setdefault(OVERALL_FRONT_LABEL, line)
        xs = [p["x"] for p in panel["points"]] + [1.0]  # the fp16 reference (1×) is always on the axis
        if max(xs) / max(min(xs), 1e-9) > 6:
            ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
        span = max(xs) - min(xs) or 1.0
        ax.set_xlim(min(xs) - 0.06 * span if ax.get_xscale() == "linear" else min(xs) / 1.15,
                    max(xs) + 0.06 * span if ax.get_xscale() == "linear" else max(xs) * 1.15)
        better = {"higher": " (higher is better)", "lower": " (lower is better)"}.get(panel["direction"], "")
        ax.set_title(panel["metric"] + better)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(panel["ylabel"])
        if not panel["points"]:
            ax.text(0.5, 0.5, "no configuration has both this metric\nand a compression ratio", ha="center",
                    va="center", transform=ax.transAxes, color="#888888")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="center left", bbox_to_anchor=(1.0, 0.5),
                   frameon=False, title="method (line: Pareto front)")
    fig.tight_layout()
    return _save(fig, out_dir, slug, title, caption)
