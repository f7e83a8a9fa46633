"""The cross-validation report: per-fold metrics, mean +- std across folds, pooled metrics, pooled confusion.

Input: the test predictions of each finished fold (eval/prediction_store.py) and the names of the
folds still missing. Two summaries, because the literature reports both:

* mean +- std across folds: each fold's overall metric (compute_metrics on that fold's test set),
  then the mean and the SAMPLE standard deviation (ddof=1; none for a single fold). EmoBox's
  leaderboard columns are the per-fold and mean WA, UA and macro-F1;
* pooled: compute_metrics on the concatenation of every fold's test predictions (WA, UA, macro-F1,
  EQ, intensity MAE / CCC, PER, gender accuracy), and its confusion matrix. Pooling is only
  meaningful when no example is tested twice; the caller checks that on the folds' units.

Writes <workdir>/crossval.json (every number), crossval.md (the tables) and crossval_confusion.png.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from speecheq_jax import markdown, storage
from speecheq_jax.eval.metrics import compute_metrics
from speecheq_jax.eval.plots import plot_confusions, trimmed_confusion
from speecheq_jax.eval.predictions import Predictions
from speecheq_jax.heads.contract import HostValues

COLUMNS: tuple[tuple[str, str], ...] = (
    ("category/wa", "WA"), ("category/ua", "UA"), ("category/macro_f1", "macro-F1"), ("eq", "EQ"),
    ("intensity/mae", "intensity MAE"), ("intensity/ccc", "intensity CCC"), ("phoneme/per", "PER"),
    ("gender/accuracy", "gender acc"),
)
"""(metric key of compute_metrics' overall group, column title), in table order."""


def concatenate(parts: Sequence[Predictions]) -> Predictions:
    """The examples of every part, in order; the parts must carry the same heads."""
    heads = {(tuple(p.truth), tuple(p.predicted)) for p in parts}
    if len(heads) != 1:
        raise ValueError(f"cannot pool predictions with different heads: {sorted(heads)}")

    def joined(side: str, head: str) -> HostValues:
        values = [getattr(p, side)[head] for p in parts]
        return [seq for value in values for seq in value] if isinstance(values[0], list) else np.concatenate(values)

    first = parts[0]
    return Predictions(corpus=np.concatenate([p.corpus for p in parts]),
                       speaker=np.concatenate([p.speaker for p in parts]),
                       truth={head: joined("truth", head) for head in first.truth},
                       predicted={head: joined("predicted", head) for head in first.predicted})


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, sample std with ddof=1), std None for a single value."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else None


def aggregate(folds: Mapping[str, Predictions], categories: Sequence[str]) -> dict[str, Any]:
    """Per-fold overall metrics, their mean and std per column, and the pooled metrics.

    Returns:
      {"folds": {fold: overall metrics}, "mean": {key: float}, "std": {key: float | None},
       "pooled": overall metrics of the concatenated predictions (with "category/confusion")}.
      A column a fold lacks (e.g. CCC on constant targets) is averaged over the folds that have it.
    """
    if not folds:
        raise ValueError("no finished fold to aggregate")
    per_fold = {name: compute_metrics(pred, categories)["overall"] for name, pred in folds.items()}
    mean, std = {}, {}
    for key, _ in COLUMNS:
        values = [metrics[key] for metrics in per_fold.values() if key in metrics]
        if values:
            mean[key], std[key] = mean_std(values)
    pooled = compute_metrics(concatenate(list(folds.values())), categories)["overall"]
    return {"folds": per_fold, "mean": mean, "std": std, "pooled": pooled}


def write_crossval_report(workdir: storage.PathLike, result: Mapping[str, Any], *, title: str,
                          notes: Sequence[str] = ()) -> dict[str, storage.AnyPath]:
    """Writes crossval.json, crossval.md and crossval_confusion.png from `aggregate`'s result.

    Args:
      result: `aggregate`'s dict plus whatever the caller adds (protocol, missing folds...); scalar
        and list entries besides the tables are listed at the top of crossval.md.
      notes: lines stated under the title (how validation was carved, folds missing...).
    """
    workdir = storage.as_path(workdir)
    written = {"json": workdir / "crossval.json", "report": workdir / "crossval.md"}
    written["json"].write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    present = [(key, title) for key, title in COLUMNS if key in result["mean"] or key in result["pooled"]]
    rows = [[name] + [_number(metrics.get(key)) for key, _ in present] + [str(metrics["n"])]
            for name, metrics in result["folds"].items()]
    rows.append(["**mean ± std**"] + [_mean_std_cell(result, key) for key, _ in present]
                + [str(sum(m["n"] for m in result["folds"].values()))])
    rows.append(["**pooled**"] + [_number(result["pooled"].get(key)) for key, _ in present]
                + [str(result["pooled"]["n"])])
    lines = [f"# {title}", ""] + [f"- {note}" for note in notes]
    lines += ["", "## Test metrics per fold, across folds and pooled", ""]
    lines += markdown.table(["fold"] + [t for _, t in present] + ["examples"], rows)
    lines += ["", "mean ± std: over folds (sample std, ddof=1). pooled: every fold's test predictions "
              "concatenated and scored once. WA = accuracy, UA = mean per-class recall."]
    confusion = result["pooled"].get("category/confusion")
    if confusion is not None:
        written["confusion"] = workdir / "crossval_confusion.png"
        plot_confusions({"pooled test, all folds": confusion}, written["confusion"])
        names, matrix = trimmed_confusion(confusion)
        lines += ["", "## Pooled confusion matrix (rows: true, columns: predicted; counts)", "",
                  f"![pooled confusion]({written['confusion'].name})", ""]
        lines += markdown.table(["true \\ predicted"] + names, [[n] + [str(c) for c in row]
                                                               for n, row in zip(names, matrix)])
    written["report"].write_text("\n".join(lines) + "\n")
    return written


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _mean_std_cell(result: Mapping[str, Any], key: str) -> str:
    if key not in result["mean"]:
        return "–"
    std = result["std"][key]
    return _number(result["mean"][key]) + ("" if std is None else f" ± {std:.3f}")
