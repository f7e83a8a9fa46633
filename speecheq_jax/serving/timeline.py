"""A recording's timeline as a PNG: category probabilities and intensity over time, segments shaded.

Drawn from the record alone (`record.py`), so the JAX and ONNX predictors and
the web service draw the same figure. Each segment's values are drawn flat
over its span (a window has one prediction); the gaps between segments are
the non-speech the voice-activity detector left out, unshaded.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def _steps(segments: list[dict[str, Any]], value) -> tuple[list[float], list[float]]:
    """(x, y) of a step line holding value(segment) over each segment, NaN between segments."""
    xs, ys = [], []
    for s in segments:
        xs += [s["start"], s["end"], s["end"]]
        ys += [value(s), value(s), float("nan")]
    return xs, ys


def render(record: Mapping[str, Any]) -> bytes:
    """PNG bytes of the timeline of one record (a record without segments gives an empty, titled plot)."""
    segments = list(record.get("segments", []))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True, height_ratios=(3, 1))
    for s in segments:
        for ax in (top, bottom):
            ax.axvspan(s["start"], s["end"], color="0.92", zorder=0)
    if segments and "category_probs" in segments[0]:
        for name in segments[0]["category_probs"]:
            top.plot(*_steps(segments, lambda s, n=name: s["category_probs"][n]), label=name, lw=1.5)
        top.legend(loc="upper right", fontsize=8, ncol=4)
    if segments and "intensity" in segments[0]:
        bottom.plot(*_steps(segments, lambda s: s["intensity"]), color="black", lw=1.5)
    top.set(ylim=(0, 1), ylabel="category p")
    bottom.set(ylim=(0, 1), ylabel="intensity", xlabel="time (s)", xlim=(0, max(record.get("duration", 0), 1e-3)))
    flags = ", ".join(record.get("flags", []))
    top.set_title(f"{Path(record['path']).name}: {record.get('category', 'not classified')}"
                  + (f" [{flags}]" if flags else ""), fontsize=10)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out.getvalue()


def write(record: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Writes `<out_dir>/<file stem>.timeline.png`; returns its path."""
    path = Path(out_dir) / f"{Path(record['path']).stem}.timeline.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(record))
    return path
