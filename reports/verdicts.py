"""Noise-aware verdicts for `bench compare`: better, worse, same (within noise) or ambiguous (too noisy to tell).

Every comparison is reduced to an estimate of the change with a confidence interval, a p-value from a test suited to
the data, and a tolerance band from the thresholds file (reports/README.md gives the whole rule):

  repeated timings   two-sided Mann-Whitney U test on the repetitions; the change is the Hodges-Lehmann estimate of
                     the ratio head/base with the distribution-free confidence interval that inverts the U test
                     (both on log values), so one slow repetition moves neither much
  1/0 items          paired difference of accuracies on the items both sides scored; McNemar's exact test (binomial
                     test on the discordant pairs); bootstrap CI of the paired difference
  per-token NLL      ratio of perplexities exp(mean(NLL_head - NLL_base)) on paired tokens; bootstrap CI of the mean
                     difference, resampling whole chunks when the items say which chunk a token is in (tokens of a
                     chunk are correlated); Wilcoxon signed-rank test on the differences
  single values      no noise estimate: judged by the threshold alone (meant for deterministic metrics such as bytes)

decide() then says:
  worse/better  the change is significant (p < alpha and the CI excludes "no change") and its estimate is past the
                threshold, in the bad/good direction;
  same          the whole CI lies inside the tolerance band, or the change is significant but smaller than the
                threshold;
  ambiguous     anything else: the data cannot exclude a change larger than the threshold, but do not show one.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import inspect
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

# scipy >= 1.15 takes the generator as `rng`; older releases (requirements.txt allows 1.11) as `random_state`.
_RNG_KW = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"

DEFAULT_THRESHOLDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_thresholds.json")
VERDICTS = ("worse", "better", "same", "ambiguous")
DIRECTIONS = ("lower", "higher", "none")
# Above this many unclustered paired values the CI of their mean uses the normal approximation (exact enough at
# such sizes) instead of resampling, which would cost resamples x n memory and time.
BOOTSTRAP_MAX_N = 20000
# Resampling whole chunks needs enough of them to say anything; with fewer, tokens are resampled one by one (which
# understates the noise of correlated tokens; the note says which was done).
MIN_CLUSTERS = 10


class SettingsError(Exception):
    """An invalid thresholds file: the entry points exit with code 2."""


@dataclass
class Rule:
    match: str
    direction: str
    rel: float = 0.0
    abs: float = 0.0
    doc: str = ""

    def tolerance(self, base: float) -> float:
        """The smallest change that counts, in the metric's units."""
        return max(self.rel * abs(base), self.abs)


@dataclass
class Settings:
    alpha: float = 0.01
    confidence: float = 0.95
    resamples: int = 2000
    rules: list = field(default_factory=list)
    path: str = ""

    def rule_for(self, metric: str, better: str = "none") -> Rule:
        """The thresholds of `metric`, with the direction its task declares (`better`, as stored with its values:
        the thresholds file holds no directions)."""
        direction = better if better in DIRECTIONS else "none"
        for r in self.rules:
            if fnmatch.fnmatchcase(metric, r.match):
                return dataclasses.replace(r, direction=direction)
        return Rule("*", direction, rel=0.05, doc="not in the thresholds file")


def load_settings(path: str | None = None) -> Settings:
    path = path or DEFAULT_THRESHOLDS
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise SettingsError(f"{path}: cannot read the thresholds file ({e.strerror})") from e
    except ValueError as e:
        raise SettingsError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise SettingsError(f"{path}: expected a JSON object with \"statistics\" and \"metrics\"")
    unknown = set(doc) - {"doc", "statistics", "metrics"}
    if unknown:
        raise SettingsError(f"{path}: unknown key(s) {sorted(unknown)}; expected doc, statistics, metrics")
    st = doc.get("statistics", {})
    s = Settings(path=path)
    for key, attr, ok in (("alpha", "alpha", lambda v: 0 < v < 1), ("confidence", "confidence", lambda v: 0 < v < 1),
                          ("bootstrap_resamples", "resamples", lambda v: v >= 100 and float(v).is_integer())):
        if key in st:
            v = st[key]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not ok(v):
                raise SettingsError(f"{path}: /statistics/{key}: invalid value {v!r}")
            setattr(s, attr, type(getattr(s, attr))(v))
    extra = set(st) - {"alpha", "confidence", "bootstrap_resamples"}
    if extra:
        raise SettingsError(f"{path}: /statistics: unknown key(s) {sorted(extra)}")
    metrics = doc.get("metrics", [])
    if not isinstance(metrics, list):
        raise SettingsError(f"{path}: /metrics: expected a list of {{match, rel, abs}} objects")
    for i, m in enumerate(metrics):
        where = f"{path}: /metrics/{i}"
        if not isinstance(m, dict) or not isinstance(m.get("match"), str):
            raise SettingsError(f"{where}: expected an object with a string \"match\"")
        if "direction" in m:
            raise SettingsError(f"{where}/direction: a metric's direction is declared with the metric by its task "
                                f"(`bench describe TASK`) and stored with its values; expected no \"direction\" here")
        if set(m) - {"match", "rel", "abs", "doc"}:
            raise SettingsError(f"{where}: unknown key(s) {sorted(set(m) - {'match', 'rel', 'abs', 'doc'})}")
        for k in ("rel", "abs"):
            v = m.get(k, 0.0)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise SettingsError(f"{where}/{k}: expected a number >= 0, got {v!r}")
        s.rules.append(Rule(m["match"], "none", float(m.get("rel", 0.0)), float(m.get("abs", 0.0)),
                            m.get("doc", "")))
    return s


@dataclass
class Outcome:
    """One metric's comparison. `scale` is "ratio" (estimate and CI are head/base) or "difference" (head - base)."""
    base: float
    head: float
    verdict: str
    test: str
    note: str = ""
    scale: str = "ratio"
    estimate: float = math.nan
    ci: tuple = (math.nan, math.nan)
    p: float | None = None
    n_base: int = 1
    n_head: int = 1
    n_paired: int | None = None

    @property
    def ratio(self) -> float:
        if self.base == 0:
            return math.inf if self.head > 0 else (1.0 if self.head == 0 else -math.inf)
        return self.head / self.base

    def as_dict(self) -> dict:
        def num(v):
            return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v
        return {"base": num(self.base), "head": num(self.head), "ratio": num(self.ratio), "verdict": self.verdict,
                "test": self.test, "note": self.note, "scale": self.scale, "estimate": num(self.estimate),
                "ci": [num(self.ci[0]), num(self.ci[1])], "p": num(self.p), "n_base": self.n_base,
                "n_head": self.n_head, "n_paired": self.n_paired}


def rng_for(*parts) -> np.random.Generator:
    """A generator seeded from the comparison's identity, so a comparison prints the same numbers every time."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def decide(estimate, lo, hi, null, band_lo, band_hi, p, alpha, direction):
    """(verdict, note) from an estimate with CI [lo, hi], the no-change value, the tolerance band and a p-value."""
    significant = p is not None and p < alpha and not (lo <= null <= hi)
    up, down = estimate > band_hi, estimate < band_lo
    if significant and (up or down):
        if direction == "none":
            return "ambiguous", "changed past the threshold, but its task declares no direction for this metric"
        worse = up if direction == "lower" else down
        return ("worse" if worse else "better"), ""
    if band_lo <= lo and hi <= band_hi:
        return "same", ""
    if significant:
        return "same", "a significant change, smaller than the threshold"
    return "ambiguous", "too noisy to tell: the confidence interval reaches past the threshold"


def _band_ratio(rule: Rule, base: float):
    tau = rule.tolerance(base) / abs(base)
    return 1.0 / (1.0 + tau), 1.0 + tau


def compare_single(base: float, head: float, rule: Rule) -> Outcome:
    """No repetitions on at least one side: the threshold alone decides."""
    tol = rule.tolerance(base)
    delta = head - base
    if abs(delta) <= tol:
        verdict, note = "same", ""
    elif rule.direction == "none":
        verdict, note = "ambiguous", "changed past the threshold, but its task declares no direction for this metric"
    else:
        worse = delta > 0 if rule.direction == "lower" else delta < 0
        verdict, note = ("worse" if worse else "better"), ""
    return Outcome(base, head, verdict, "single value (threshold only)", note, scale="difference", estimate=delta,
                   ci=(delta, delta))


def hodges_lehmann(base, head, confidence: float):
    """Shift head - base: the Hodges-Lehmann estimate (median of all pairwise differences) and the distribution-free
    confidence interval that inverts the Mann-Whitney U test (order statistics of the pairwise differences, normal
    approximation of U's distribution). Robust to the occasional slow repetition, and coherent with the U test."""
    d = np.sort(np.subtract.outer(np.asarray(head, float), np.asarray(base, float)).ravel())
    n, m = len(head), len(base)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    k = int(math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12)))
    k = min(max(k, 0), (len(d) - 1) // 2)
    return float(np.median(d)), float(d[k]), float(d[len(d) - 1 - k])


def compare_repeated(base_vals, head_vals, rule: Rule, settings: Settings, rng=None) -> Outcome:
    """Repeated measurements (timings): Mann-Whitney U test, and the Hodges-Lehmann estimate of the ratio head/base
    with its confidence interval, both computed on log values (a shift of logs is a ratio)."""
    b = np.asarray(base_vals, dtype=float)
    h = np.asarray(head_vals, dtype=float)
    mb, mh = float(np.median(b)), float(np.median(h))
    if np.all(b == b[0]) and np.all(h == h[0]):
        # Constant repetitions (e.g. a deterministic value stored per repetition): nothing to test.
        out = compare_single(mb, mh, rule)
        out.n_base, out.n_head, out.test = len(b), len(h), "constant repetitions (threshold only)"
        return out
    p = float(stats.mannwhitneyu(h, b, alternative="two-sided").pvalue)
    test = "Mann-Whitney U; Hodges-Lehmann ratio"
    if np.all(b > 0) and np.all(h > 0):
        est, lo, hi = (math.exp(x) for x in hodges_lehmann(np.log(b), np.log(h), settings.confidence))
        scale, null, band = "ratio", 1.0, _band_ratio(rule, mb)
    else:
        # Values at or below zero have no ratio: compare the shift itself.
        est, lo, hi = hodges_lehmann(b, h, settings.confidence)
        tol = rule.tolerance(mb)
        scale, null, band, test = "difference", 0.0, (-tol, tol), "Mann-Whitney U; Hodges-Lehmann shift"
    verdict, note = decide(est, lo, hi, null, band[0], band[1], p, settings.alpha, rule.direction)
    return Outcome(mb, mh, verdict, test, note, scale=scale, estimate=est, ci=(lo, hi), p=p, n_base=len(b),
                   n_head=len(h))


def _mean_ci(d: np.ndarray, clusters, settings: Settings, rng):
    """Confidence interval of mean(d): resampling whole clusters when given, else single values."""
    q = (1 - settings.confidence) / 2
    if clusters is not None:
        ids, inv = np.unique(np.asarray(clusters), return_inverse=True)
        if len(ids) >= MIN_CLUSTERS:
            sums = np.bincount(inv, weights=d)
            counts = np.bincount(inv).astype(float)
            idx = rng.integers(0, len(ids), size=(settings.resamples, len(ids)))
            means = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
            return float(np.quantile(means, q)), float(np.quantile(means, 1 - q)), f"{len(ids)} chunks resampled"
    how = f"items resampled singly: only {len(np.unique(np.asarray(clusters)))} clusters" if clusters is not None else ""
    if np.all(d == d[0]):
        return float(d[0]), float(d[0]), how
    if len(d) > BOOTSTRAP_MAX_N:
        half = stats.norm.ppf(1 - q) * float(np.std(d, ddof=1)) / math.sqrt(len(d))
        return float(d.mean()) - half, float(d.mean()) + half, "normal approximation" + (f"; {how}" if how else "")
    res = stats.bootstrap((d,), np.mean, vectorized=True, n_resamples=settings.resamples,
                          confidence_level=settings.confidence, method="percentile", **{_RNG_KW: rng},
                          batch=max(1, 2_000_000 // len(d)))
    return float(res.confidence_interval.low), float(res.confidence_interval.high), how


def compare_binary_items(base_items, head_items, rule: Rule, settings: Settings, rng) -> Outcome:
    """Paired 1/0 outcomes (accuracy): McNemar's exact test and a bootstrap CI of the paired difference."""
    b = np.asarray(base_items, dtype=float)
    h = np.asarray(head_items, dtype=float)
    n = len(b)
    lost = int(np.sum((b == 1) & (h == 0)))
    gained = int(np.sum((b == 0) & (h == 1)))
    discordant = lost + gained
    p = float(stats.binomtest(gained, discordant, 0.5).pvalue) if discordant else 1.0
    base, head = float(b.mean()), float(h.mean())
    delta = head - base
    # The paired bootstrap of a {-1, 0, 1} difference is a multinomial draw of (lost, gained, tied) counts: drawing
    # the counts directly is the same distribution without materializing resamples x n indices.
    draws = rng.multinomial(n, [lost / n, gained / n, 1 - discordant / n], size=settings.resamples)
    diffs = (draws[:, 1] - draws[:, 0]) / n
    q = (1 - settings.confidence) / 2
    lo, hi = float(np.quantile(diffs, q)), float(np.quantile(diffs, 1 - q))
    tol = rule.tolerance(base)
    verdict, note = decide(delta, lo, hi, 0.0, -tol, tol, p, settings.alpha, rule.direction)
    detail = f"{gained} gained, {lost} lost of {n} paired items"
    return Outcome(base, head, verdict, "McNemar exact (paired items)", f"{detail}; {note}" if note else detail,
                   scale="difference", estimate=delta, ci=(lo, hi), p=p, n_base=n, n_head=n, n_paired=n)


def compare_mean_items(base_items, head_items, rule: Rule, settings: Settings, rng, *, exp_mean=False,
                       clusters=None) -> Outcome:
    """Paired continuous per-item values (per-token NLL): paired bootstrap of the mean difference, Wilcoxon
    signed-rank test. With exp_mean the metric is exp(mean) (perplexity) and the comparison is its ratio."""
    b = np.asarray(base_items, dtype=float)
    h = np.asarray(head_items, dtype=float)
    d = h - b
    p = 1.0 if np.all(d == 0) else float(stats.wilcoxon(d).pvalue)
    lo, hi, how = _mean_ci(d, clusters, settings, rng)
    mean_d = float(d.mean())
    test = "paired bootstrap" + (f" ({how})" if how else "") + ", Wilcoxon signed-rank"
    if exp_mean:
        base, head = math.exp(float(b.mean())), math.exp(float(h.mean()))
        band = _band_ratio(rule, base)
        verdict, note = decide(math.exp(mean_d), math.exp(lo), math.exp(hi), 1.0, band[0], band[1], p,
                               settings.alpha, rule.direction)
        return Outcome(base, head, verdict, test, note, scale="ratio", estimate=math.exp(mean_d),
                       ci=(math.exp(lo), math.exp(hi)), p=p, n_base=len(b), n_head=len(h), n_paired=len(d))
    base, head = float(b.mean()), float(h.mean())
    tol = rule.tolerance(base)
    verdict, note = decide(mean_d, lo, hi, 0.0, -tol, tol, p, settings.alpha, rule.direction)
    return Outcome(base, head, verdict, test, note, scale="difference", estimate=mean_d, ci=(lo, hi), p=p,
                   n_base=len(b), n_head=len(h), n_paired=len(d))
