"""Compare training arms across seeds: mean +- std per arm, paired differences with a bootstrap interval.

An ablation trains several arms (e.g. category only, category + phoneme, all
four tasks) with the same seeds. Seed s of every arm shares its data order and
initial encoder draw as far as the arms allow, so the honest comparison is
PAIRED: for each seed, arm minus the reference arm, then the mean of those
differences with a percentile bootstrap over seeds. With few seeds the
interval is wide (three seeds give at most 10 distinct resampled means); it is
reported as it comes out, never narrowed.

Under cross-validation a run is one fold of one seed, and the pairs are
(fold, seed): arm and reference are compared on the same test speakers with
the same seed, and the bootstrap resamples those pairs.

Input: runs as dicts {"arm": str, "seed": int, "metrics": {name: float}}, plus
"fold": str under cross-validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from speecheq_jax import markdown

# Lower is better for these metric names (error rates, distances); everything else: higher.
LOWER_IS_BETTER = ("per", "mae", "loss")


Pair = int | tuple[str, int]
"""What a difference is taken within: the seed, or (fold, seed) under cross-validation."""


def pair_of(run: dict[str, Any]) -> Pair:
    """The run's seed, or (fold, seed) when the run is one fold of a cross-validation."""
    return (str(run["fold"]), int(run["seed"])) if "fold" in run else int(run["seed"])


@dataclass(frozen=True)
class PairedDifference:
    """arm minus reference over the pairs (seeds, or (fold, seed)) both have, with a bootstrap 95% interval."""

    arm: str
    metric: str
    seeds: tuple[Pair, ...]
    differences: tuple[float, ...]
    mean: float
    low: float
    high: float


def by_arm(runs: Sequence[dict[str, Any]], metric: str) -> dict[str, dict[Pair, float]]:
    """arm -> pair (`pair_of`) -> value of `metric` (runs without it are left out), arms in first-seen order."""
    table: dict[str, dict[Pair, float]] = {}
    for run in runs:
        table.setdefault(run["arm"], {})
        if metric in run["metrics"]:
            table[run["arm"]][pair_of(run)] = float(run["metrics"][metric])
    return table


def bootstrap_mean_interval(values: Sequence[float], *, resamples: int = 10_000, seed: int = 0,
                            level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (resampled with replacement)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("bootstrap_mean_interval: no values")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def paired_differences(runs: Sequence[dict[str, Any]], metric: str, reference: str) -> list[PairedDifference]:
    """Every arm but `reference`: per-pair difference (arm - reference) on the pairs both ran."""
    table = by_arm(runs, metric)
    if reference not in table:
        raise ValueError(f"paired_differences: reference arm {reference!r} has no runs; arms: {list(table)}")
    out = []
    for arm, values in table.items():
        seeds = tuple(sorted(set(values) & set(table[reference])))
        if arm == reference or not seeds:
            continue
        diffs = tuple(values[s] - table[reference][s] for s in seeds)
        low, high = bootstrap_mean_interval(diffs)
        out.append(PairedDifference(arm, metric, seeds, diffs, float(np.mean(diffs)), low, high))
    return out


def _mean_std(values: Sequence[float]) -> str:
    """'0.812 +- 0.011' (sample std, ddof=1); a single value has no spread."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} +- {np.std(values, ddof=1):.3f}"


def markdown_table(runs: Sequence[dict[str, Any]], metrics: Sequence[tuple[str, str]], *, reference: str,
                   paired_on: Sequence[str]) -> str:
    """Mean +- std per arm and metric, then paired differences against `reference`.

    Args:
      metrics: (metric key, column title) pairs for the first table; an arm
        without a metric (e.g. PER when it has no phoneme head) shows "-".
      paired_on: metric keys compared pairwise against `reference`; without runs of `reference`
        the second table is replaced by one line saying so.
    """
    columns = {key: by_arm(runs, key) for key, _ in metrics}
    arms = list(by_arm(runs, metrics[0][0]))
    pairs = sorted({pair_of(r) for r in runs})
    over = "seeds" if all(isinstance(p, int) for p in pairs) else "(fold, seed) pairs"
    count_title = "seeds" if over == "seeds" else "fold x seed"
    rows = []
    for arm in arms:
        cells = [_mean_std([v for _, v in sorted(columns[key][arm].items())]) if columns[key].get(arm) else "-"
                 for key, _ in metrics]
        rows.append([arm, str(len({pair_of(r) for r in runs if r["arm"] == arm})), *cells])
    lines = markdown.table(["arm", count_title, *(title for _, title in metrics)], rows)
    if reference not in arms:
        return "\n".join([*lines, "", f"No paired differences: the reference arm `{reference}` has no runs."]) + "\n"
    lines += ["", f"Paired difference against `{reference}` (same {over[:-1]}; mean over {len(pairs)} {over}, "
              f"bootstrap 95% interval over {over}; per-pair differences in brackets):", ""]
    diffs = {key: {d.arm: d for d in paired_differences(runs, key, reference)} for key in paired_on}
    rows = []
    for arm in arms:
        if arm == reference:
            continue
        cells = []
        for key in paired_on:
            d = diffs[key].get(arm)
            cells.append("-" if d is None else f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}] "
                         f"({', '.join(f'{x:+.3f}' for x in d.differences)})")
        rows.append([arm, *cells])
    lines += markdown.table(["arm", *paired_on], rows)
    return "\n".join(lines) + "\n"


def plot_arms(runs: Sequence[dict[str, Any]], metrics: Sequence[tuple[str, str]], path: str) -> None:
    """One panel per metric: each arm's mean as a bar, every seed as a dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 4.0), squeeze=False)
    for ax, (key, title) in zip(axes[0], metrics):
        table = {arm: v for arm, v in by_arm(runs, key).items() if v}
        names = list(table)
        means = [np.mean(list(table[a].values())) for a in names]
        ax.bar(range(len(names)), means, color="#9ecae1")
        for i, arm in enumerate(names):
            ax.scatter([i] * len(table[arm]), list(table[arm].values()), color="#08519c", s=14, zorder=3)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
        ax.set_title(title + (" (lower is better)" if key.rsplit("/", 1)[-1] in LOWER_IS_BETTER else ""))
        low = min(min(v.values()) for v in table.values())
        high = max(max(v.values()) for v in table.values())
        ax.set_ylim(max(0.0, low - 0.1 * (high - low + 1e-3) - 0.02), high + 0.1 * (high - low + 1e-3) + 0.02)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
