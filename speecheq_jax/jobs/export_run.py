"""`export_run`: a run's checkpoint -> `<workdir>/export/`, usable without this training code.

    export/
      model_T{T}.onnx    ONNX, one per input length (export/onnx_model.py), run by `python -m speecheq_jax.predict`
      model.stablehlo    serialized jax.export artifact, any batch and length (export/stablehlo.py)
      model_card.json    the run's model card plus an `export` section (step, files, contracts, test metrics)
      model_card.md      the same for people
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import ml_collections
from flax import nnx

from speecheq_jax import model_card
from speecheq_jax.export import onnx_model, stablehlo
from speecheq_jax.export.card_markdown import render_markdown
from speecheq_jax.export.forward import make_forward
from speecheq_jax.jobs.evaluate_checkpoint import restore_for_eval

log = logging.getLogger(__name__)
STABLEHLO_FILE = "model.stablehlo"


def _test_metrics(workdir: Path, step: int) -> dict[str, float] | None:
    """The overall test metrics in `<workdir>/metrics.json` if they were computed for `step`."""
    path = workdir / "metrics.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    if results.get("step") != step or "test" not in results:
        return None
    return {k: v for k, v in results["test"]["overall"].items() if isinstance(v, float)}


def export_run(config: ml_collections.ConfigDict, workdir: str | Path, which: str | int = "best", *,
               onnx_frames: Sequence[int] = onnx_model.EXPORT_FRAMES) -> Path:
    """Exports checkpoint `which` ('best', 'latest' or a step) of the run in `workdir`; returns the directory.

    `onnx_frames` are the ONNX files' input lengths (10 ms frames, multiples of 4).
    """
    start = time.perf_counter()
    workdir = Path(workdir)
    restored = restore_for_eval(config, workdir, which)
    trainable, _ = nnx.merge(restored.eval_def, jax.device_get(restored.state))
    forward = make_forward(trainable.model)
    out_dir = workdir / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = onnx_model.export_onnx(forward, out_dir, onnx_frames)
    stablehlo.export_stablehlo(forward, out_dir / STABLEHLO_FILE)
    card: dict[str, Any] = dict(restored.card)
    card["export"] = {
        "step": restored.step,
        "checkpoint": str(which),
        "onnx": {"files": {str(k): v for k, v in files.items()}, "inputs": ["logmel", "frame_mask"],
                 "outputs": onnx_model.output_names(forward), "opset": onnx_model.OPSET},
        "stablehlo": {"file": STABLEHLO_FILE, "platforms": list(stablehlo.EXPORT_PLATFORMS)},
        "test_metrics": _test_metrics(workdir, restored.step),
    }
    model_card.write_card(card, out_dir)
    (out_dir / "model_card.md").write_text(render_markdown(card), encoding="utf-8")
    log.info("export: step %d to %s in %.1f s", restored.step, out_dir, time.perf_counter() - start)
    return out_dir
