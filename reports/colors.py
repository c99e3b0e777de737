"""A colour per method that is the same in every plot of a report and, as far as possible, across reports.

The colour comes from a hash of the method name (not from its position in some list), so adding a method to a suite
does not repaint the others. Two names hashing to the same colour within one report are separated by probing the
palette in name order, which depends only on the set of methods shown.
"""
from __future__ import annotations

import hashlib
import itertools

# Distinguishable on white, colour-blind friendlier first (Okabe-Ito), then tab10-like extras.
PALETTE = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#7F3C8D",
    "#B8860B", "#17BECF", "#BCBD22", "#E377C2", "#1F3A93", "#2CA02C", "#D62728", "#9467BD",
]
# The uncompressed baseline is always the same neutral colour.
FIXED = {"fp16": "#222222"}

# Parameter variants of one method share its colour and differ by line style and marker.
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _hash_index(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % len(PALETTE)


def method_colors(methods) -> dict:
    """{method: colour} for the methods shown in one report."""
    out, used = {}, set()
    for m in sorted(set(methods)):
        if m in FIXED:
            out[m] = FIXED[m]
            continue
        start = _hash_index(m)
        for i in range(len(PALETTE)):
            c = PALETTE[(start + i) % len(PALETTE)]
            if c not in used:
                break
        else:  # more methods than colours: reuse the hashed one
            c = PALETTE[start]
        out[m] = c
        used.add(c)
    return out


def variant_styles(variants_by_method: dict) -> dict:
    """{(method, variant): (linestyle, marker)}: the variants of a method in a stable (sorted) order."""
    out = {}
    for method, variants in variants_by_method.items():
        styles = itertools.cycle(zip(itertools.cycle(LINESTYLES), MARKERS))
        for v in sorted(set(variants)):
            out[(method, v)] = next(styles)
    return out
