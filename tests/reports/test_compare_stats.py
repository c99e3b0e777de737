"""The statistics behind `bench compare`'s verdicts (reports/verdicts.py) and the item lookup (reports/compare.py)."""
import json
import math

import numpy as np
import pytest
from scipy import stats

from reports import verdicts as V
from reports.benchdb import Series
from reports.compare import item_mapping

from make_db import declared_better

SETTINGS = V.load_settings()


def rule(metric, task):
    """The thresholds file's rule with the direction the task declares (as the stored rows carry it)."""
    better = declared_better(task)
    assert metric in better, f"bench describe {task} --json declares no {metric} (is bench built?)"
    return SETTINGS.rule_for(metric, better[metric])


ACC = rule("acc", "piqa")
PPL = rule("ppl", "wikitext2")
DECODE = rule("decode_ms_median", "latency")


def binary_pair(n, p, lost, gained, seed=0):
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < p).astype(float)
    head = base.copy()
    ones, zeros = np.flatnonzero(base == 1), np.flatnonzero(base == 0)
    head[rng.choice(ones, lost, replace=False)] = 0
    head[rng.choice(zeros, gained, replace=False)] = 1
    return base, head


def test_mcnemar_on_planted_item_changes():
    base, head = binary_pair(400, 0.7, lost=30, gained=0)
    out = V.compare_binary_items(base, head, ACC, SETTINGS, V.rng_for("a"))
    assert out.verdict == "worse"
    assert out.p == pytest.approx(stats.binomtest(0, 30, 0.5).pvalue)
    assert out.estimate == pytest.approx(-30 / 400)
    assert out.ci[1] < 0 and "0 gained, 30 lost of 400" in out.note
    out = V.compare_binary_items(head, base, ACC, SETTINGS, V.rng_for("a"))
    assert out.verdict == "better"
    # As many gained as lost: no evidence of a change, but 30 discordant items cannot rule out one of 1 point.
    base, head = binary_pair(400, 0.7, lost=15, gained=15)
    out = V.compare_binary_items(base, head, ACC, SETTINGS, V.rng_for("b"))
    assert out.p == pytest.approx(1.0) and out.verdict == "ambiguous"
    # Identical outcomes: the same, whatever the accuracy.
    out = V.compare_binary_items(base, base, ACC, SETTINGS, V.rng_for("c"))
    assert out.verdict == "same" and out.p == 1.0 and out.ci == (0.0, 0.0)


def test_pairing_finds_what_independent_means_miss():
    """12 items lost and none gained out of 1000: 0.700 vs 0.688 is nothing for two independent proportions, but
    McNemar's exact test on the pairs sees 12 one-way flips."""
    base, head = binary_pair(1000, 0.7, lost=12, gained=0, seed=3)
    table = [[base.sum(), len(base) - base.sum()], [head.sum(), len(head) - head.sum()]]
    assert stats.chi2_contingency(table).pvalue > 0.3
    out = V.compare_binary_items(base, head, ACC, SETTINGS, V.rng_for("d"))
    assert out.p < 0.001 and out.verdict == "worse"


def test_paired_nll_on_planted_shift():
    rng = np.random.default_rng(5)
    base = rng.gamma(1.2, 2.4, size=6000)  # per-token NLL: sd ~2.6 nats
    chunks = np.repeat(np.arange(24), 250)
    shifted = base + 0.02 + rng.normal(0, 0.05, size=base.size)
    out = V.compare_mean_items(base, shifted, PPL, SETTINGS, V.rng_for("e"), exp_mean=True, clusters=chunks)
    assert out.verdict == "worse" and "24 chunks resampled" in out.test
    assert out.estimate == pytest.approx(math.exp(np.mean(shifted - base)))
    assert out.head / out.base == pytest.approx(out.estimate)
    # Two independent samples would not see a 2% perplexity change under this much per-token spread.
    assert stats.mannwhitneyu(base, shifted).pvalue > 0.01
    # Zero-mean jitter per token: the same.
    jitter = base + rng.normal(0, 0.05, size=base.size)
    out = V.compare_mean_items(base, jitter, PPL, SETTINGS, V.rng_for("f"), exp_mean=True, clusters=chunks)
    assert out.verdict == "same"
    # An improvement.
    out = V.compare_mean_items(shifted, base, PPL, SETTINGS, V.rng_for("g"), exp_mean=True)
    assert out.verdict == "better"


@pytest.mark.parametrize("cv,n", [(0.01, 10), (0.03, 10), (0.03, 5), (0.06, 20)])
def test_repeated_noise_false_alarm_rate(cv, n):
    """No change, heavy-tailed noise: 'worse' and 'better' each stay under alpha/2 (they need p < alpha and an
    estimate past the threshold)."""
    rng = np.random.default_rng(int(cv * 1000) + n)
    trials = 1500
    counts = {v: 0 for v in V.VERDICTS}
    for i in range(trials):
        b = 10 * np.exp(rng.normal(0, cv, n)) * np.where(rng.random(n) < 0.05, 1.2, 1.0)
        h = 10 * np.exp(rng.normal(0, cv, n)) * np.where(rng.random(n) < 0.05, 1.2, 1.0)
        counts[V.compare_repeated(b, h, DECODE, SETTINGS).verdict] += 1
    bound = stats.binom.ppf(0.999, trials, SETTINGS.alpha / 2)
    assert counts["worse"] <= bound and counts["better"] <= bound, counts
    print(f"cv={cv} n={n}: {counts}")


def test_repeated_power_and_noise_honesty():
    rng = np.random.default_rng(9)
    found = ambiguous = 0
    for _ in range(300):
        b = 10 * np.exp(rng.normal(0, 0.02, 10))
        h = 11 * np.exp(rng.normal(0, 0.02, 10))  # 10% slower
        found += V.compare_repeated(b, h, DECODE, SETTINGS).verdict == "worse"
        # With 25% noise and 3 repetitions a 10% change cannot be told from noise: say so.
        b3 = 10 * np.exp(rng.normal(0, 0.25, 3))
        h3 = 11 * np.exp(rng.normal(0, 0.25, 3))
        ambiguous += V.compare_repeated(b3, h3, DECODE, SETTINGS).verdict == "ambiguous"
    assert found >= 0.97 * 300
    assert ambiguous >= 0.9 * 300


def test_hodges_lehmann_interval():
    b = np.array([10.0, 10.2, 9.9, 10.1, 10.3, 10.0, 9.8, 10.1])
    est, lo, hi = V.hodges_lehmann(b, b + 1.0, 0.95)
    assert est == pytest.approx(1.0) and lo < 1.0 < hi
    # One wild repetition moves neither the estimate nor the interval much.
    h = b + 1.0
    h[0] = 100.0
    est2, lo2, hi2 = V.hodges_lehmann(b, h, 0.95)
    assert abs(est2 - est) < 0.15 and hi2 < 1.6


def test_decide_rules():
    # estimate, lo, hi, null, band_lo, band_hi, p, alpha, direction
    assert V.decide(1.2, 1.15, 1.25, 1, 0.95, 1.05, 1e-4, 0.01, "lower")[0] == "worse"
    assert V.decide(1.2, 1.15, 1.25, 1, 0.95, 1.05, 1e-4, 0.01, "higher")[0] == "better"
    assert V.decide(1.2, 1.15, 1.25, 1, 0.95, 1.05, 1e-4, 0.01, "none")[0] == "ambiguous"
    assert V.decide(1.01, 0.99, 1.03, 1, 0.95, 1.05, 0.3, 0.01, "lower")[0] == "same"
    assert V.decide(1.03, 1.02, 1.06, 1, 0.95, 1.05, 1e-4, 0.01, "lower") == \
        ("same", "a significant change, smaller than the threshold")
    assert V.decide(1.08, 0.97, 1.2, 1, 0.95, 1.05, 0.2, 0.01, "lower")[0] == "ambiguous"
    # Not significant at alpha even though the interval excludes no change: not called worse.
    assert V.decide(1.2, 1.1, 1.3, 1, 0.95, 1.05, 0.02, 0.01, "lower")[0] == "ambiguous"


def test_single_values_and_absolute_floors():
    kv = rule("kv_bytes", "latency")
    assert V.compare_single(1000, 1000, kv).verdict == "same"
    assert V.compare_single(1000, 1010, kv).verdict == "worse"
    assert V.compare_single(1000, 990, kv).verdict == "better"
    kl = rule("kl_mean", "wikitext2")
    # 0 -> 0.0005 nats is under the absolute floor of the KL rule (a relative threshold alone would fire).
    assert V.compare_single(0.0, 0.0005, kl).verdict == "same"
    assert V.compare_single(0.0, 0.01, kl).verdict == "worse"
    other = SETTINGS.rule_for("some_new_metric")
    assert other.direction == "none" and V.compare_single(1.0, 2.0, other).verdict == "ambiguous"


def test_thresholds_file_validation(tmp_path):
    for doc, message in [({"metrics": {}}, "/metrics: expected a list"),
                         ({"metrics": [{"match": "x", "direction": "lower"}]}, "/metrics/0/direction"),
                         ({"metrics": [{"match": "x", "rel": -1}]}, "/metrics/0/rel"),
                         ({"statistics": {"alpha": 2}}, "/statistics/alpha"),
                         ({"extra": 1}, "unknown key")]:
        p = tmp_path / "t.json"
        p.write_text(json.dumps(doc))
        with pytest.raises(V.SettingsError, match=message.replace("/", ".")):
            V.load_settings(str(p))
    with pytest.raises(V.SettingsError, match="cannot read"):
        V.load_settings(str(tmp_path / "none.json"))
    V.load_settings()  # the shipped defaults load


def test_tasks_declare_a_direction_where_one_is_meaningful():
    """Every metric the tasks report carries the direction its registration declares (`bench describe --json`):
    the stored rows, bench compare and the report all take it from there."""
    expect = {("latency", "prefill_ms"): "lower", ("latency", "decode_ms_median"): "lower",
              ("latency", "decode_tok_s"): "higher", ("latency", "prefill_tok_s"): "higher",
              ("latency", "kv_bytes"): "lower", ("latency", "kv_ratio"): "higher", ("latency", "weight_bytes"): "lower",
              ("latency", "peak_rss_bytes"): "lower", ("latency", "kv_bytes_fp16"): "none",
              ("latency", "threads"): "none", ("wikitext2", "ppl"): "lower", ("wikitext2", "kl_mean"): "lower",
              ("wikitext2", "kl_p99"): "lower", ("wikitext2", "top1_agree"): "higher",
              ("wikitext2", "ppl_stderr"): "none", ("piqa", "acc"): "higher", ("piqa", "acc_norm"): "higher",
              ("passkey", "accuracy"): "higher", ("gsm8k", "exact_match"): "higher", ("piqa", "acc_stderr"): "none",
              ("piqa", "items"): "none"}
    assert {k: declared_better(k[0]).get(k[1]) for k in expect} == expect
    # A rule takes the declared direction; a metric nobody declares is never judged better or worse.
    assert SETTINGS.rule_for("ppl", "lower").direction == "lower"
    assert SETTINGS.rule_for("ppl").direction == "none"


class FakeConfig:
    def __init__(self, items):
        self._items = items

    def items(self):
        return self._items


def test_item_mapping_is_found_from_the_data():
    rng = np.random.default_rng(1)
    # Multiple choice: score = acc, detail["acc_norm"].
    acc = (rng.random(50) < 0.6).astype(int)
    norm = (rng.random(50) < 0.7).astype(int)
    mc = FakeConfig({f"{i}": (float(acc[i]), {"acc_norm": int(norm[i]), "gold": 1}) for i in range(50)})
    kind, values, _ = item_mapping(mc, Series("acc", {}, "fraction", [acc.mean()]))
    assert kind == "binary" and list(values.values()) == list(acc.astype(float))
    kind, values, _ = item_mapping(mc, Series("acc_norm", {}, "fraction", [norm.mean()]))
    assert kind == "binary" and list(values.values()) == list(norm.astype(float))
    # A value that matches no item field: no mapping (then the single value is compared).
    assert item_mapping(mc, Series("acc", {}, "fraction", [0.123456])) is None
    # Perplexity from per-token NLL; KL from detail["kl"]; labels no item carries (n_ctx) qualify everything.
    nll = rng.gamma(1.2, 2.4, 40)
    kl = rng.random(40) * 0.01
    wt = FakeConfig({f"{i // 10}/{i}": (float(nll[i]), {"kl": float(kl[i]), "top1": 1}) for i in range(40)})
    lab = {"n_ctx": 512, "mode": "streaming"}
    kind, values, clusters = item_mapping(wt, Series("ppl", lab, "", [math.exp(nll.mean())]))
    assert kind == "exp-mean" and len(values) == 40 and set(clusters.values()) == {"0", "1", "2", "3"}
    kind, values, _ = item_mapping(wt, Series("kl_mean", lab, "nats", [kl.mean()]))
    assert kind == "mean"
    # Retrieval: per-depth accuracy uses the items of that depth only.
    ok = (rng.random(30) < 0.5).astype(int)
    rt = FakeConfig({f"1024/{d}/{i}": (float(ok[d // 50 * 10 + i]), {"depth_percent": d})
                     for d in (0, 50, 100) for i in range(10)})
    depth50 = ok[10:20].mean()
    kind, values, _ = item_mapping(rt, Series("accuracy", {"context": 1024, "depth_percent": 50}, "fraction",
                                              [depth50]))
    assert kind == "binary" and sorted(values) == sorted(f"1024/50/{i}" for i in range(10))
