"""Figures of an evaluation and a run: confusion matrices and training curves.

Figures use matplotlib's object API (`Figure`), which renders with Agg and never touches a
display or pyplot's global state. `read_history` reads the JSON-lines history the train loop logs.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from speecheq_jax import storage


def trimmed_confusion(confusion: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """Keeps the classes that occur in the truth or the predictions."""
    matrix = np.asarray(confusion["matrix"], dtype=np.int64)
    used = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return [n for n, u in zip(confusion["labels"], used) if u], matrix[np.ix_(used, used)]


def _grid(figure: Figure, panels: int, cols: int = 3) -> list[Any]:
    cols = min(cols, panels)
    rows = math.ceil(panels / cols)
    figure.set_size_inches(5.0 * cols, 4.2 * rows)
    return [figure.add_subplot(rows, cols, i + 1) for i in range(panels)]


def plot_confusions(confusions: dict[str, dict[str, Any]], path: storage.PathLike) -> None:
    """One panel per group: row-normalised colours (recall), counts annotated."""
    figure = Figure(layout="constrained")
    for axes, (name, confusion) in zip(_grid(figure, len(confusions)), confusions.items()):
        names, matrix = trimmed_confusion(confusion)
        rows = matrix.sum(axis=1, keepdims=True)
        normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
        axes.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
        for (i, j), count in np.ndenumerate(matrix):
            colour = "white" if normalised[i, j] > 0.5 else "black"
            axes.text(j, i, f"{count}\n{normalised[i, j]:.2f}", ha="center", va="center", fontsize=8, color=colour)
        axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
        axes.set_yticks(range(len(names)), names)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(f"{name} (n={int(matrix.sum())})")
    _save(figure, path)


def read_history(path: storage.PathLike) -> list[dict[str, float]]:
    """Numeric entries of a JSON-lines history, one dict per line with an int "step".

    Non-numeric values (strings, lists) are skipped; a line that is not a JSON
    object with a "step" raises ValueError naming the file and line.
    """
    records = []
    for number, line in enumerate(storage.as_path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not JSON ({error.msg})") from error
        if not isinstance(record, dict) or "step" not in record:
            raise ValueError(f"{path}:{number}: expected a JSON object with a 'step' key")
        records.append({k: float(v) for k, v in record.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return records


def metric_family(key: str) -> str:
    """Panel a history key is drawn in: its last path part up to '_' or '@'.

    'train/loss_category' and 'valid/loss' share 'loss'; 'valid/eq@2' and
    'valid/eq' share 'eq'; 'valid/ua' is 'ua'.
    """
    return re.split(r"[_@]", key.rsplit("/", 1)[-1])[0]


def _plotted(key: str) -> bool:
    """Curves show overall metrics and train losses; per-corpus values and counts live in the tables."""
    return key != "step" and "/corpora/" not in key and metric_family(key) != "count"


def plot_history(records: list[dict[str, float]], path: storage.PathLike) -> None:
    """One panel per metric family, one line per key against the step."""
    families: dict[str, list[str]] = {}
    for key in dict.fromkeys(k for record in records for k in record if _plotted(k)):
        families.setdefault(metric_family(key), []).append(key)
    if not families:
        raise ValueError(f"the history has no metric to plot (keys other than 'step'); cannot write {path}")
    figure = Figure(layout="constrained")
    for axes, (family, keys) in zip(_grid(figure, len(families)), families.items()):
        values_seen = []
        for key in keys:
            points = [(r["step"], r[key]) for r in records if key in r]
            steps, values = zip(*points)
            axes.plot(steps, values, marker="." if len(points) < 30 else None, label=key)
            values_seen += values
        low, high = min(values_seen), max(values_seen)
        if low > 0 and high / low > 100:
            axes.set_yscale("log")
        axes.set_title(family)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    _save(figure, path)


def _save(figure: Figure, path: storage.PathLike) -> None:
    """The figure as a PNG at `path`, local or in a bucket (matplotlib writes to the open file)."""
    with storage.as_path(path).open("wb") as f:
        figure.savefig(f, format="png", dpi=110)
