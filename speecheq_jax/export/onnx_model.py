"""ONNX export through jax2onnx, one file per input length, checked against JAX with onnxruntime.

Input contract of every file (documented in the model card's `export.onnx`):
    logmel float32 [B, T, 80]  CMVN-normalised with the card's pooled statistics, zero on padding
    frame_mask bool [B, T]     True on real frames
B is dynamic; T is fixed per file (`model_T{T}.onnx`): jax2onnx 0.17 cannot
trace the relative-position attention's `arange` over a symbolic length, so
the time axis is exported at a few lengths (a predictor pads to the smallest
one that fits; padding never changes the outputs). Outputs are those of
`forward.make_forward`, under the same names.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import jax2onnx
import numpy as np
import onnxruntime

from speecheq_jax.export.forward import Forward
from speecheq_jax.frames import NUM_MELS

log = logging.getLogger(__name__)
logging.getLogger("jax2onnx").setLevel(logging.ERROR)  # it warns about every optional plugin it cannot load

OPSET = 21
EXPORT_FRAMES: tuple[int, ...] = (256, 512, 1024, 2048, 3072)
"""Input lengths of the ONNX files, in 10 ms frames (2.56 s ... 30.72 s)."""
TOLERANCE = 2e-3
"""Largest difference allowed between ONNX and JAX outputs on the export's self-check."""


def onnx_file_name(frames: int) -> str:
    return f"model_T{frames}.onnx"


@contextlib.contextmanager
def _quiet_converter_logs() -> Iterator[None]:
    """jax2onnx logs its call on the root logger and onnx_ir every pass (INFO) and every unnamed shape (WARNING)."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _convert(forward: Forward, frames: int, names: Sequence[str]):
    """The ONNX ModelProto of `forward` at T = `frames`, batch dimension 'B'."""
    specs = [jax.ShapeDtypeStruct(("B", frames, NUM_MELS), jnp.float32), jax.ShapeDtypeStruct(("B", frames), jnp.bool_)]
    with _quiet_converter_logs():
        return jax2onnx.to_onnx(lambda logmel, mask: tuple(forward(logmel, mask)[k] for k in names), specs,
                                model_name="speecheq", opset=OPSET, input_names=["logmel", "frame_mask"],
                                output_names=list(names))


def check_against_jax(forward: Forward, path: Path, frames: int, seed: int = 0) -> float:
    """Runs the ONNX file and `forward` on one random half-padded batch; returns the largest difference.

    Compared: every float output and the mask (the CTC frame argmax may flip
    on a near tie, so it is not). Raises RuntimeError when one differs by more
    than TOLERANCE (a converter defect).
    """
    rng = np.random.default_rng(seed)
    logmel = rng.standard_normal((2, frames, NUM_MELS)).astype(np.float32)
    mask = np.ones((2, frames), bool)
    mask[1, frames // 2 :] = False
    logmel[~mask] = 0.0
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"logmel": logmel, "frame_mask": mask})))
    want = jax.device_get(jax.jit(forward)(logmel, mask))
    worst = 0.0
    for name, value in want.items():
        if name == "phoneme_ids":
            continue
        worst = max(worst, float(np.max(np.abs(np.asarray(got[name], np.float64) - np.asarray(value, np.float64)))))
    if worst > TOLERANCE:
        raise RuntimeError(f"{path.name}: ONNX and JAX outputs differ by {worst:.2e} (> {TOLERANCE}); "
                           "the converter mistranslated an operation")
    return worst


def output_names(forward: Forward) -> list[str]:
    """The ONNX outputs' names, in order: the keys of `forward`'s result."""
    probe = jax.ShapeDtypeStruct((1, 16, NUM_MELS), jnp.float32), jax.ShapeDtypeStruct((1, 16), jnp.bool_)
    return list(jax.eval_shape(forward, *probe))


def export_onnx(forward: Forward, out_dir: Path, frames: Sequence[int] = EXPORT_FRAMES) -> dict[int, str]:
    """Writes one checked ONNX file per input length; returns {frames: file name}."""
    names = output_names(forward)
    files = {}
    for length in frames:
        path = out_dir / onnx_file_name(length)
        path.write_bytes(_convert(forward, length, names).SerializeToString())
        worst = check_against_jax(forward, path, length)
        log.info("ONNX %s: %.1f MB, largest difference to JAX %.1e", path.name, path.stat().st_size / 1e6, worst)
        files[length] = path.name
    return files
