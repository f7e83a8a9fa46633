"""Hidden states of audio files from a checkpoint: the work behind `python -m speecheq_jax.ssl extract`.

Audio is read by the project's reader (`features.logmel.read_audio`: `audio_file.decode`, mean of the
channels, `scipy.signal.resample_poly` to 16 kHz), then normalised to zero mean and unit variance
when the checkpoint's preprocessor_config.json says `do_normalize` (as transformers' feature
extractor does; a directory without that file gets the raw waveform). Each file runs alone, unpadded,
whatever its length (group-norm encoders need that; ssl/encoder.py), so each distinct length
compiles once. Memory grows with the square of the length: a base model's attention scores
(12 heads x T^2 floats, T = 50 frames a second) take 12 MB for 10 s of audio, 43 GB for 10 minutes.

Output keys: a file's name (`a.wav`); when several inputs share a name, each of them is keyed by its
path as given instead (`x/a.wav`, `y/a.wav`); a path given twice is processed once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from speecheq_jax.features import logmel
from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.loader import load_encoder

PREPROCESSOR_CONFIG = "preprocessor_config.json"
NORMALIZE_EPS = 1e-7
"""transformers' zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7)."""


def output_keys(paths: Sequence[Path]) -> dict[Path, str]:
    """{path: npz key}: the file name, or the path as given where names collide (module docstring)."""
    unique = list(dict.fromkeys(paths))
    names = Counter(path.name for path in unique)
    return {path: path.name if names[path.name] == 1 else str(path) for path in unique}


def wants_normalize(checkpoint_dir: Path) -> bool:
    """The checkpoint's feature extractor normalises its input (preprocessor_config.json `do_normalize`)."""
    path = checkpoint_dir / PREPROCESSOR_CONFIG
    if not path.is_file():
        return False
    try:
        preprocessor = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise CheckpointError(f"{path}: cannot read it ({' '.join(str(e).split())})") from e
    if preprocessor.get("sampling_rate", logmel.SAMPLE_RATE) != logmel.SAMPLE_RATE:
        raise CheckpointError(f"{path}: sampling_rate {preprocessor['sampling_rate']} is not "
                              f"{logmel.SAMPLE_RATE} (the only rate supported)")
    return bool(preprocessor.get("do_normalize", False))


class Extractor:
    """A loaded checkpoint and its jitted forward: waveform [N] -> hidden states float32 [L+1, T, D]."""

    def __init__(self, checkpoint_dir: str | Path):
        checkpoint_dir = Path(checkpoint_dir)
        module, self.config = load_encoder(checkpoint_dir)
        self.normalize = wants_normalize(checkpoint_dir)
        graphdef, self.state = nnx.split(module)

        @jax.jit
        def forward(state: nnx.State, waveform: jax.Array) -> jax.Array:
            return nnx.merge(graphdef, state)(waveform[None]).hidden_states[:, 0]

        self._forward = forward

    def waveform(self, path: Path) -> np.ndarray:
        """float32 [N] at 16 kHz, normalised if the checkpoint asks. Raises a ValueError naming the file."""
        samples = logmel.read_audio(path)
        if len(samples) < self.config.min_samples:
            raise ValueError(f"{path}: too short for the encoder's convolutions ({len(samples)} samples at "
                             f"16 kHz; at least {self.config.min_samples} needed)")
        if self.normalize:
            samples = (samples - samples.mean()) / np.sqrt(samples.var() + NORMALIZE_EPS)
        return samples.astype(np.float32)

    def hidden_states(self, path: Path) -> np.ndarray:
        """float32 [L+1, T, D] of one audio file."""
        return np.asarray(self._forward(self.state, self.waveform(path)))


def extract(extractor: Extractor, paths: Sequence[Path]) -> tuple[dict[str, np.ndarray], list[str]]:
    """({npz key: hidden states [L+1, T, D]} of the usable files, one error line per other file), in input order."""
    arrays: dict[str, np.ndarray] = {}
    errors: list[str] = []
    for path, key in output_keys(paths).items():
        try:
            arrays[key] = extractor.hidden_states(path)
        except (ValueError, OSError) as e:
            errors.append(str(e))
    return arrays, errors
