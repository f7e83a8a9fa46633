"""Human-readable evaluation reports: metrics.json, report.md and plots.

`write_report` takes what `metrics.compute_metrics` (one evaluation) or
`metrics.aggregate_folds` (a cross-validation) returned and writes, into the
run's workdir, the exact numbers (metrics.json), a short Markdown summary that
a reader can check at a glance (headline table per corpus, counts, the label
mapping that was applied, confusion matrices), a row-normalised confusion
matrix figure, and training curves from the JSON-lines history that the train
loop logs. Figures use matplotlib's object API (`Figure`), which renders with
Agg and never touches a display or pyplot's global state.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

_HEADLINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("EQ", "eq"),
    ("EQ@1", "eq@1"),
    ("EQ@2", "eq@2"),
    ("EQ@3", "eq@3"),
    ("WA", "category/wa"),
    ("UA", "category/ua"),
    ("macro-F1", "category/macro_f1"),
    ("int. MAE", "intensity/mae"),
    ("int. CCC", "intensity/ccc"),
    ("native acc", "intensity/native_accuracy"),
    ("PER", "phoneme/per"),
    ("gender acc", "gender/accuracy"),
)
_COUNT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("examples", "n"),
    ("speakers", "speakers"),
    ("category", "category/n"),
    ("intensity", "intensity/n"),
    ("native", "intensity/native_n"),
    ("phoneme utts", "phoneme/n"),
    ("phoneme tokens", "phoneme/ref_tokens"),
    ("gender", "gender/n"),
    ("EQ@1", "eq@1/n"),
    ("EQ@2", "eq@2/n"),
    ("EQ@3", "eq@3/n"),
)
_FOLD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("EQ", "eq"),
    ("WA", "category/wa"),
    ("UA", "category/ua"),
    ("macro-F1", "category/macro_f1"),
    ("PER", "phoneme/per"),
)
_MISSING_CELL = "–"


def write_report(
    workdir: str | Path,
    metrics: dict[str, Any],
    *,
    history_path: str | Path | None = None,
    label_mapping: Mapping[str, Mapping[str, str]] | None = None,
    categories: Sequence[str] | None = None,
    title: str = "SpeechEQ evaluation",
) -> dict[str, Path]:
    """Writes metrics.json, report.md, confusion PNG(s) and (with a history) curves.png.

    Args:
      workdir: folder to write into (created if needed).
      metrics: a compute_metrics or an aggregate_folds output, or a dict whose
        entries hold such outputs per split (e.g. {"step": 900, "valid": ...,
        "test": ...}); its scalar entries are listed at the top of the report.
      history_path: JSON-lines training history, one object per line with
        "step" and metric keys such as "train/loss" or "valid/ua".
      label_mapping: corpus -> native code -> unified category (or the
        drop/mask decision), e.g. {c: registry.get(c).labels.describe(options)}.
      categories: the run's category label set (the category head's classes),
        stated at the top of the report.
      title: first heading of report.md.
    Returns:
      name -> written path: "metrics", "report", "curves", and "confusion"
      (one evaluation) or "confusion_<split>" (one per split).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    evaluations = _evaluations(metrics)
    written = {"metrics": workdir / "metrics.json", "report": workdir / "report.md"}
    written["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    lines = [f"# {title}", ""]
    lines += [f"- {key}: {value}" for key, value in metrics.items() if isinstance(value, (str, int, float))]
    if categories is not None:
        lines.append(f"- category classes ({len(categories)}, the run's label set): {', '.join(categories)}")
    for split, summary in evaluations.items():
        figure = None
        if summary.confusions():
            key = f"confusion_{split}" if split else "confusion"
            written[key] = figure = workdir / f"{key}.png"
            plot_confusions(summary.confusions(), figure)
        lines += ["", f"## {split}"] if split else []
        lines += _evaluation_lines(summary, "###" if split else "##", figure)
    if label_mapping:
        lines += _mapping_lines(label_mapping)
    if history_path is not None:
        written["curves"] = workdir / "curves.png"
        plot_history(read_history(history_path), written["curves"])
        lines += ["", "## Training curves", "", f"![training curves]({written['curves'].name})"]
    written["report"].write_text("\n".join(lines) + "\n")
    return written


def _is_evaluation(tree: dict[str, Any]) -> bool:
    """True for a compute_metrics or an aggregate_folds output."""
    return "folds" in tree or {"overall", "corpora"} <= tree.keys()


def _evaluations(metrics: dict[str, Any]) -> dict[str, _Summary]:
    """Split name ("" for a lone evaluation) -> its summary."""
    if _is_evaluation(metrics):
        return {"": _Summary(metrics)}
    found = {
        name: _Summary(value) for name, value in metrics.items() if isinstance(value, dict) and _is_evaluation(value)
    }
    if not found:
        raise ValueError(
            "write_report: metrics is neither a compute_metrics/aggregate_folds output nor a dict of them "
            f"(top-level keys: {sorted(metrics)})"
        )
    return found


class _Summary:
    """Uniform read access to a single evaluation or a fold aggregate."""

    def __init__(self, metrics: dict[str, Any]) -> None:
        self.is_aggregate = "folds" in metrics
        self.num_folds = metrics["num_folds"] if self.is_aggregate else 1
        self.folds = metrics["folds"] if self.is_aggregate else []
        self.mean = metrics["mean"] if self.is_aggregate else metrics
        self.std = metrics["std"] if self.is_aggregate else {}
        self.fold_count = metrics["fold_count"] if self.is_aggregate else {}
        self.groups = [*sorted(self.mean["corpora"]), "overall"]

    def group(self, section: dict[str, Any], name: str) -> dict[str, Any]:
        """The "overall" or a corpus's entries of one section (mean, std or fold_count)."""
        if not section:
            return {}
        return section["overall"] if name == "overall" else section["corpora"].get(name, {})

    def cell(self, name: str, key: str) -> str:
        """A metric as '0.612' or '0.612 ± 0.031', with '(2/5 folds)' when only some folds report it."""
        value = self.group(self.mean, name).get(key)
        if value is None:
            return _MISSING_CELL
        if not isinstance(value, float):
            return str(value)
        text = f"{value:.3f}"
        if self.is_aggregate:
            folds = self.group(self.fold_count, name)[key]
            if folds > 1:
                text += f" ± {self.group(self.std, name)[key]:.3f}"
            if folds < self.num_folds:
                text += f" ({folds}/{self.num_folds} folds)"
        if key == "gender/accuracy" and self.group(self.mean, name).get("gender/degenerate"):
            text += " †"
        return text

    def confusions(self) -> dict[str, dict[str, Any]]:
        """Group name -> {"labels", "matrix"} for the groups scored on category.

        With a single corpus the overall matrix repeats it, so it is left out.
        """
        names = self.groups[:1] if len(self.groups) == 2 else self.groups
        found = {name: self.group(self.mean, name).get("category/confusion") for name in names}
        return {name: confusion for name, confusion in found.items() if confusion is not None}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _evaluation_lines(summary: _Summary, heading: str, confusion_figure: Path | None) -> list[str]:
    """Headline table, counts, per-fold table and confusion matrices of one evaluation."""
    lines = [""]
    if summary.is_aggregate:
        lines += [f"Mean ± std (population) over {summary.num_folds} folds; counts and confusions are summed.", ""]
    losses = summary.mean.get("loss")
    if isinstance(losses, dict) and losses:
        lines += ["Mean loss per task: " + ", ".join(f"{task} {value:.4f}" for task, value in losses.items()), ""]
    lines += [f"{heading} Headline", ""]
    headline_rows = [[f"**{g}**" if g == "overall" else g] + [summary.cell(g, k) for _, k in _HEADLINE_COLUMNS]
                     for g in summary.groups]
    lines += _table(["group"] + [h for h, _ in _HEADLINE_COLUMNS], headline_rows)
    lines += [
        "",
        "Overall EQ@k and EQ are unweighted means of the per-corpus values (each corpus at its own supported"
        " scales); every other overall metric pools the examples of all corpora. WA = accuracy, UA = mean"
        " per-class recall. Intensity MAE / CCC count only corpora with graded intensities: a corpus without an"
        " intensity scale labels just its neutral examples, at 0, and shows –; CCC is – when the targets are"
        " constant. † = the truth holds one gender only (degenerate). Definitions and which examples"
        " count: `speecheq_jax/eval/metrics.py`.",
        "",
        f"{heading} Examples counted",
        "",
    ]
    lines += _table(["group"] + [h for h, _ in _COUNT_COLUMNS],
                    [[g] + [summary.cell(g, k) for _, k in _COUNT_COLUMNS] for g in summary.groups])
    if summary.is_aggregate:
        lines += ["", f"{heading} Per fold (overall)", ""]
        fold_rows = [[str(i), str(fold["overall"]["n"])] + [_number(fold["overall"].get(k)) for _, k in _FOLD_COLUMNS]
                     for i, fold in enumerate(summary.folds)]
        lines += _table(["fold", "n"] + [h for h, _ in _FOLD_COLUMNS], fold_rows)
    return lines + _confusion_lines(summary.confusions(), heading, confusion_figure)


def _mapping_lines(label_mapping: Mapping[str, Mapping[str, str]]) -> list[str]:
    lines = ["", "## Label mapping applied", ""]
    for corpus, mapping in label_mapping.items():
        lines += [f"**{corpus}**", ""] + _table(["native", "unified"], [[k, str(v)] for k, v in mapping.items()])
        lines.append("")
    return lines


def _number(value: Any) -> str:
    return _MISSING_CELL if value is None else f"{value:.3f}"


def _confusion_lines(confusions: dict[str, dict[str, Any]], heading: str, figure: Path | None) -> list[str]:
    if not confusions:
        return []
    lines = ["", f"{heading} Confusion matrices (rows: true, columns: predicted; counts)", ""]
    if figure is not None:
        lines += [f"![confusion matrices]({figure.name})", ""]
    for name, confusion in confusions.items():
        names, matrix = _trimmed(confusion)
        lines += [f"**{name}**", ""] + _table(["true \\ predicted"] + names,
                                              [[n] + [str(c) for c in row] for n, row in zip(names, matrix)])
        lines.append("")
    return lines


def _trimmed(confusion: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """Keeps the classes that occur in the truth or the predictions."""
    matrix = np.asarray(confusion["matrix"], dtype=np.int64)
    used = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return [n for n, u in zip(confusion["labels"], used) if u], matrix[np.ix_(used, used)]


def _grid(figure: Figure, panels: int, cols: int = 3) -> list[Any]:
    cols = min(cols, panels)
    rows = math.ceil(panels / cols)
    figure.set_size_inches(5.0 * cols, 4.2 * rows)
    return [figure.add_subplot(rows, cols, i + 1) for i in range(panels)]


def plot_confusions(confusions: dict[str, dict[str, Any]], path: str | Path) -> None:
    """One panel per group: row-normalised colours (recall), counts annotated."""
    figure = Figure(layout="constrained")
    for axes, (name, confusion) in zip(_grid(figure, len(confusions)), confusions.items()):
        names, matrix = _trimmed(confusion)
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
    figure.savefig(path, dpi=110)


def read_history(path: str | Path) -> list[dict[str, float]]:
    """Numeric entries of a JSON-lines history, one dict per line with an int "step".

    Non-numeric values (strings, lists) are skipped; a line that is not a JSON
    object with a "step" raises ValueError naming the file and line.
    """
    records = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
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


def plot_history(records: list[dict[str, float]], path: str | Path) -> None:
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
    figure.savefig(path, dpi=110)
