"""Human-readable evaluation reports: metrics.json, report.md and plots.

`write_report` takes what `metrics.compute_metrics` returned (one evaluation, or a dict of them
per split) and writes, into the run's workdir, the exact numbers (metrics.json), a short Markdown
summary that a reader can check at a glance (headline table per corpus, counts, the label mapping
that was applied, confusion matrices), a row-normalised confusion matrix figure, and training
curves from the JSON-lines history that the train loop logs (eval/plots.py). The columns are EQ's
and those of every registered head (`HeadSpec.headline_columns`, `count_columns`).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping, Sequence
from typing import Any

from speecheq_jax import markdown, storage
from speecheq_jax.eval.plots import plot_confusions, plot_history, read_history, trimmed_confusion
from speecheq_jax.heads import head_specs
from speecheq_jax.heads.contract import Column

_EQ_COLUMNS: tuple[Column, ...] = (Column("EQ", "eq"), Column("EQ@1", "eq@1"), Column("EQ@2", "eq@2"),
                                   Column("EQ@3", "eq@3"))
_EQ_COUNT_COLUMNS: tuple[Column, ...] = (Column("EQ@1", "eq@1/n"), Column("EQ@2", "eq@2/n"), Column("EQ@3", "eq@3/n"))
_MISSING_CELL = "–"
_NOTE = (
    "Overall EQ@k and EQ are unweighted means of the per-corpus values (each corpus at its own supported"
    " scales); every other overall metric pools the examples of all corpora. WA = accuracy, UA = mean"
    " per-class recall. Intensity MAE / CCC count only corpora with graded intensities: a corpus without an"
    " intensity scale labels just its neutral examples, at 0, and shows –; CCC is – when the targets are"
    " constant. † = the truth holds one gender only (degenerate). Definitions and which examples"
    " count: `speecheq_jax/eval/metrics.py`."
)


def headline_columns() -> tuple[Column, ...]:
    """EQ's columns, then every registered head's headline columns (registry order)."""
    return _EQ_COLUMNS + tuple(column for spec in head_specs() for column in spec.headline_columns)


def _count_columns() -> tuple[Column, ...]:
    heads = tuple(column for spec in head_specs() for column in spec.count_columns)
    return (Column("examples", "n"), Column("speakers", "speakers")) + heads + _EQ_COUNT_COLUMNS


def write_report(
    workdir: storage.PathLike,
    metrics: dict[str, Any],
    *,
    history_path: storage.PathLike | None = None,
    label_mapping: Mapping[str, Mapping[str, str]] | None = None,
    categories: Sequence[str] | None = None,
    exclusions: Mapping[str, Sequence[Mapping[str, str]]] | None = None,
    title: str = "SpeechEQ evaluation",
) -> dict[str, storage.AnyPath]:
    """Writes metrics.json, report.md, confusion PNG(s) and (with a history) curves.png.

    Args:
      workdir: folder to write into (created if needed).
      metrics: a compute_metrics output, or a dict whose entries hold such
        outputs per split (e.g. {"step": 900, "valid": ..., "test": ...}); its
        scalar entries are listed at the top of the report.
      history_path: JSON-lines training history, one object per line with
        "step" and metric keys such as "train/loss" or "valid/ua".
      label_mapping: corpus -> native code -> unified category (or the
        drop/mask decision), e.g. {c: registry.get(c).labels.describe(options)}.
      categories: the run's category label set (the category head's classes),
        stated at the top of the report.
      exclusions: corpus -> the files its preparation left out, each
        {"file", "reason", "detail"} (the dataset metadata's `excluded_files`):
        counted by reason and listed (the first MAX_LISTED of each corpus).
      title: first heading of report.md.
    Returns:
      name -> written path: "metrics", "report", "curves", and "confusion"
      (one evaluation) or "confusion_<split>" (one per split).
    """
    workdir = storage.as_path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    evaluations = _evaluations(metrics)
    written = {"metrics": workdir / "metrics.json", "report": workdir / "report.md"}
    written["metrics"].write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    lines = [f"# {title}", ""]
    lines += [f"- {key}: {value}" for key, value in metrics.items() if isinstance(value, (str, int, float))]
    if categories is not None:
        lines.append(f"- category classes ({len(categories)}, the run's label set): {', '.join(categories)}")
    for split, evaluation in evaluations.items():
        figure = None
        confusions = _confusions(evaluation)
        if confusions:
            key = f"confusion_{split}" if split else "confusion"
            written[key] = figure = workdir / f"{key}.png"
            plot_confusions(confusions, figure)
        lines += ["", f"## {split}"] if split else []
        lines += _evaluation_lines(evaluation, "###" if split else "##", figure)
    if label_mapping:
        lines += _mapping_lines(label_mapping)
    if exclusions is not None:
        lines += _exclusion_lines(exclusions)
    if history_path is not None:
        written["curves"] = workdir / "curves.png"
        plot_history(read_history(history_path), written["curves"])
        lines += ["", "## Training curves", "", f"![training curves]({written['curves'].name})"]
    written["report"].write_text("\n".join(lines) + "\n")
    return written


def _is_evaluation(tree: dict[str, Any]) -> bool:
    """True for a compute_metrics output."""
    return {"overall", "corpora"} <= tree.keys()


def _evaluations(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Split name ("" for a lone evaluation) -> its compute_metrics output."""
    if _is_evaluation(metrics):
        return {"": metrics}
    found = {name: value for name, value in metrics.items() if isinstance(value, dict) and _is_evaluation(value)}
    if not found:
        raise ValueError("write_report: metrics is neither a compute_metrics output nor a dict of them "
                         f"(top-level keys: {sorted(metrics)})")
    return found


def _groups(evaluation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Group name -> its metrics: the corpora (sorted), then "overall"."""
    return {**{name: evaluation["corpora"][name] for name in sorted(evaluation["corpora"])},
            "overall": evaluation["overall"]}


def _cell(group: dict[str, Any], column: Column) -> str:
    """A metric as '0.612' (floats), a count as is, '–' when absent; ' †' where the column's flag is set."""
    value = group.get(column.key)
    if value is None:
        return _MISSING_CELL
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    return text + " †" if column.flag and group.get(column.flag) else text


def _confusions(evaluation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Group name -> {"labels", "matrix"} for the groups scored on category.

    With a single corpus the overall matrix repeats it, so it is left out.
    """
    groups = _groups(evaluation)
    names = list(groups)[:1] if len(groups) == 2 else list(groups)
    found = {name: groups[name].get("category/confusion") for name in names}
    return {name: confusion for name, confusion in found.items() if confusion is not None}


def _group_table(groups: dict[str, dict[str, Any]], columns: Sequence[Column], bold_overall: bool) -> list[str]:
    rows = [[f"**{name}**" if bold_overall and name == "overall" else name] + [_cell(group, c) for c in columns]
            for name, group in groups.items()]
    return markdown.table(["group"] + [c.header for c in columns], rows)


def _evaluation_lines(evaluation: dict[str, Any], heading: str, confusion_figure: storage.AnyPath | None) -> list[str]:
    """Headline table, counts and confusion matrices of one evaluation."""
    groups = _groups(evaluation)
    lines = [""]
    losses = evaluation.get("loss")
    if isinstance(losses, dict) and losses:
        lines += ["Mean loss per task: " + ", ".join(f"{task} {value:.4f}" for task, value in losses.items()), ""]
    lines += [f"{heading} Headline", ""] + _group_table(groups, headline_columns(), bold_overall=True)
    lines += ["", _NOTE, "", f"{heading} Examples counted", ""]
    lines += _group_table(groups, _count_columns(), bold_overall=False)
    return lines + _confusion_lines(_confusions(evaluation), heading, confusion_figure)


def _mapping_lines(label_mapping: Mapping[str, Mapping[str, str]]) -> list[str]:
    lines = ["", "## Label mapping applied", ""]
    for corpus, mapping in label_mapping.items():
        lines += [f"**{corpus}**", ""] + markdown.table(["native", "unified"], [[k, str(v)] for k, v in mapping.items()])
        lines.append("")
    return lines


MAX_LISTED = 50
"""Excluded files listed per corpus in report.md; label_mapping.json lists every one."""


def _exclusion_lines(exclusions: Mapping[str, Sequence[Mapping[str, str]]]) -> list[str]:
    """'Files excluded at preparation': per corpus, counts by reason, then the files with reason and detail."""
    lines = ["", "## Files excluded at preparation", ""]
    if not any(exclusions.values()):
        return lines + ["None: every file of every corpus was usable."]
    for corpus, files in exclusions.items():
        reasons = collections.Counter(f["reason"] for f in files)
        lines += [f"**{corpus}**: {len(files)} file(s) excluded" + (":" if files else "."), ""]
        if not files:
            continue
        lines += markdown.table(["reason", "files"], [[reason, str(n)] for reason, n in reasons.most_common()]) + [""]
        lines += markdown.table(["file", "reason", "detail"],
                        [[f["file"], f["reason"], f.get("detail") or ""] for f in files[:MAX_LISTED]])
        if len(files) > MAX_LISTED:
            lines.append(f"... and {len(files) - MAX_LISTED} more (all in label_mapping.json).")
        lines.append("")
    return lines


def _confusion_lines(confusions: dict[str, dict[str, Any]], heading: str, figure: storage.AnyPath | None) -> list[str]:
    if not confusions:
        return []
    lines = ["", f"{heading} Confusion matrices (rows: true, columns: predicted; counts)", ""]
    if figure is not None:
        lines += [f"![confusion matrices]({figure.name})", ""]
    for name, confusion in confusions.items():
        names, matrix = trimmed_confusion(confusion)
        lines += [f"**{name}**", ""] + markdown.table(["true \\ predicted"] + names,
                                              [[n] + [str(c) for c in row] for n, row in zip(names, matrix)])
        lines.append("")
    return lines
