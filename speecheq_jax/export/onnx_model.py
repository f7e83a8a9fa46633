"""ONNX export through jax2onnx, one file per input length, checked against JAX with onnxruntime.

Input contract of every file (documented in the model card's `export.onnx`):
    logmel float32 [B, T, 80]  CMVN-normalised with the card's pooled statistics, zero on padding
    frame_mask bool [B, T]     True on real frames
or, on the SSL route (the encoder inside, `WAVEFORM_INPUTS`; files `model_N{N}.onnx`, N samples):
    waveform float32 [1, N]    16 kHz samples, zero on padding
    sample_mask bool [1, N]    True on real samples
with ONE row per call: the encoder counts each row's frames as (n - kernel) // stride + 1 per conv
(ssl/feature_encoder.py), an integer floor division over [B], and jax2onnx 0.17's `rem` lowering
(plugins/jax/lax/rem.py) cannot give its output a symbolic batch dimension (InconclusiveDimensionOperation:
"Symbolic dimension 'B' used in a context that requires a constant"); the ONNX runtime runs a batch row by row.
B is dynamic; T is fixed per file (`model_T{T}.onnx`): jax2onnx 0.17 cannot
trace the relative-position attention's `arange` over a symbolic length, so
the time axis is exported at a few lengths (a predictor pads to the smallest
one that fits; padding never changes the outputs). Outputs are those of
`forward.make_forward`, under the same names.
"""

from __future__ import annotations

import contextlib
import dataclasses
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
from speecheq_jax.serving.onnx_model import run_session

log = logging.getLogger(__name__)
logging.getLogger("jax2onnx").setLevel(logging.ERROR)  # it warns about every optional plugin it cannot load

OPSET = 21
EXPORT_FRAMES: tuple[int, ...] = (256, 512, 1024, 2048, 3072)
"""Input lengths of the ONNX files, in 10 ms frames (2.56 s ... 30.72 s)."""
TOLERANCE = 2e-3
"""Largest difference allowed between ONNX and JAX outputs on the export's self-check."""


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """The two inputs of a file: names, the float input's per-step shape, the file-name letter of its length."""

    names: tuple[str, str]
    trailing: tuple[int, ...]
    letter: str
    batch: int | str = "B"
    """"B": any batch size; an int: the files take exactly that many rows."""


LOGMEL_INPUTS = ModelInputs(("logmel", "frame_mask"), (NUM_MELS,), "T")
WAVEFORM_INPUTS = ModelInputs(("waveform", "sample_mask"), (), "N", batch=1)


def onnx_file_name(frames: int, inputs: ModelInputs = LOGMEL_INPUTS) -> str:
    return f"model_{inputs.letter}{frames}.onnx"


@contextlib.contextmanager
def _quiet_converter_logs() -> Iterator[None]:
    """jax2onnx logs its call on the root logger and onnx_ir every pass (INFO) and every unnamed shape (WARNING)."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _convert(forward: Forward, frames: int, names: Sequence[str], inputs: ModelInputs):
    """The ONNX ModelProto of `forward` at T = `frames`, batch dimension 'B'."""
    specs = [jax.ShapeDtypeStruct((inputs.batch, frames, *inputs.trailing), jnp.float32),
             jax.ShapeDtypeStruct((inputs.batch, frames), jnp.bool_)]
    with _quiet_converter_logs():
        return jax2onnx.to_onnx(lambda values, mask: tuple(forward(values, mask)[k] for k in names), specs,
                                model_name="speecheq", opset=OPSET, input_names=list(inputs.names),
                                output_names=list(names))


def check_against_jax(forward: Forward, path: Path, frames: int, seed: int = 0,
                      inputs: ModelInputs = LOGMEL_INPUTS) -> float:
    """Runs the ONNX file and `forward` on one random half-padded batch; returns the largest difference.

    Compared: every float output and the mask (the CTC frame argmax may flip
    on a near tie, so it is not). Raises RuntimeError when one differs by more
    than TOLERANCE (a converter defect).
    """
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((2, frames, *inputs.trailing)).astype(np.float32)
    mask = np.ones((2, frames), bool)
    mask[1, frames // 2 :] = False
    values[~mask] = 0.0
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = run_session(session, inputs.names, inputs.batch, values, mask)
    want = jax.device_get(jax.jit(forward)(values, mask))
    worst = 0.0
    for name, value in want.items():
        if name == "phoneme_ids":
            continue
        worst = max(worst, float(np.max(np.abs(np.asarray(got[name], np.float64) - np.asarray(value, np.float64)))))
    if worst > TOLERANCE:
        raise RuntimeError(f"{path.name}: ONNX and JAX outputs differ by {worst:.2e} (> {TOLERANCE}); "
                           "the converter mistranslated an operation")
    return worst


def output_names(forward: Forward, inputs: ModelInputs = LOGMEL_INPUTS, length: int = 16) -> list[str]:
    """The ONNX outputs' names, in order: the keys of `forward`'s result (`length`: any length it takes)."""
    probe = (jax.ShapeDtypeStruct((1, length, *inputs.trailing), jnp.float32),
             jax.ShapeDtypeStruct((1, length), jnp.bool_))
    return list(jax.eval_shape(forward, *probe))


def export_onnx(forward: Forward, out_dir: Path, frames: Sequence[int] = EXPORT_FRAMES,
                inputs: ModelInputs = LOGMEL_INPUTS) -> dict[int, str]:
    """Writes one checked ONNX file per input length (`frames`: in the inputs' steps, log-mel frames or samples);
    returns {length: file name}."""
    names = output_names(forward, inputs, min(frames))
    files = {}
    for length in frames:
        path = out_dir / onnx_file_name(length, inputs)
        path.write_bytes(_convert(forward, length, names, inputs).SerializeToString())
        worst = check_against_jax(forward, path, length, inputs=inputs)
        log.info("ONNX %s: %.1f MB, largest difference to JAX %.1e", path.name, path.stat().st_size / 1e6, worst)
        files[length] = path.name
    return files
