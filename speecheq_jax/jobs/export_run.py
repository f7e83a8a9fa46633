"""`export_run`: a run's checkpoint -> `<workdir>/export/`, usable without this training code.

    export/
      model_T{T}.onnx    ONNX, one per input length (export/onnx_model.py), run by `python -m speecheq_jax.predict`
                         (SSL route: model_N{N}.onnx, the encoder inside, N samples of 16 kHz audio)
      model.stablehlo    serialized jax.export artifact, any batch and length (export/stablehlo.py; log-mel route
                         only: the encoder's strided convolutions have no symbolic-length export here)
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

from speecheq_jax import model_card, storage
from speecheq_jax.export import onnx_model, stablehlo
from speecheq_jax.export.card_markdown import render_markdown
from speecheq_jax.export.forward import make_forward, make_waveform_forward
from speecheq_jax.features import logmel
from speecheq_jax.frames import LOGMEL
from speecheq_jax.jobs.evaluate_checkpoint import Restored, restore_for_eval
from speecheq_jax.jobs.ssl_inference import waveform_model

log = logging.getLogger(__name__)
STABLEHLO_FILE = "model.stablehlo"


def _test_metrics(workdir: storage.AnyPath, step: int) -> dict[str, float] | None:
    """The overall test metrics in `<workdir>/metrics.json` if they were computed for `step`."""
    path = workdir / "metrics.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    if results.get("step") != step or "test" not in results:
        return None
    return {k: v for k, v in results["test"]["overall"].items() if isinstance(v, float)}


def export_run(config: ml_collections.ConfigDict, workdir: storage.PathLike, which: str | int = "best", *,
               onnx_frames: Sequence[int] = onnx_model.EXPORT_FRAMES) -> storage.AnyPath:
    """Exports checkpoint `which` ('best', 'latest' or a step) of the run in `workdir`; returns the directory.

    `onnx_frames` are the ONNX files' input lengths (10 ms frames, multiples of 4). The exporters write
    local files only: a run in a bucket is exported into a local directory, uploaded when complete.
    """
    start = time.perf_counter()
    workdir = storage.as_path(workdir)
    restored = restore_for_eval(config, workdir, which)
    if restored.spec.layout == LOGMEL:
        trainable, _ = nnx.merge(restored.eval_def, jax.device_get(restored.state))
        forward, inputs, lengths = make_forward(trainable.model), onnx_model.LOGMEL_INPUTS, onnx_frames
    else:  # the encoder inside: the files take 16 kHz samples, as many as `onnx_frames` 10 ms frames span
        forward, inputs = make_waveform_forward(waveform_model(restored)), onnx_model.WAVEFORM_INPUTS
        lengths = [frames * logmel.HOP_LENGTH for frames in onnx_frames]
    out_dir = workdir / "export"
    with storage.staged(out_dir) as local_dir:
        _write_export(forward, inputs, local_dir, restored, which, _test_metrics(workdir, restored.step), lengths)
    log.info("export: step %d to %s in %.1f s", restored.step, out_dir, time.perf_counter() - start)
    return out_dir


def _write_export(forward, inputs: onnx_model.ModelInputs, out_dir: Path, restored: Restored, which: str | int,
                  test_metrics: dict[str, float] | None, lengths: Sequence[int]) -> None:
    """The ONNX files, the StableHLO artifact (log-mel route) and the model card (JSON and Markdown) into `out_dir`."""
    files = onnx_model.export_onnx(forward, out_dir, lengths, inputs)
    hlo = None
    if inputs == onnx_model.LOGMEL_INPUTS:
        stablehlo.export_stablehlo(forward, out_dir / STABLEHLO_FILE)
        hlo = {"file": STABLEHLO_FILE, "platforms": list(stablehlo.EXPORT_PLATFORMS)}
    card: dict[str, Any] = dict(restored.card)
    card["export"] = {
        "step": restored.step,
        "checkpoint": str(which),
        "onnx": {"files": {str(k): v for k, v in files.items()}, "inputs": list(inputs.names), "batch": inputs.batch,
                 "outputs": onnx_model.output_names(forward, inputs, min(lengths)), "opset": onnx_model.OPSET},
        "stablehlo": hlo,
        "test_metrics": test_metrics,
    }
    model_card.write_card(card, out_dir)
    (out_dir / "model_card.md").write_text(render_markdown(card), encoding="utf-8")
