"""Hidden states of audio files from a checkpoint: the work behind `python -m speecheq_jax.ssl extract`.

Audio is read by the project's reader (`features.logmel.read_audio`: `audio_file.decode`, mean of the
channels, `scipy.signal.resample_poly` to 16 kHz), then normalised to zero mean and unit variance
when the checkpoint's preprocessor_config.json says `do_normalize` (as transformers' feature
extractor does; a directory without that file gets the raw waveform).

Files run in padded batches (`plan_batches`): sorted by length, each padded up to the next length
of a fixed grid (1 s, then steps of sqrt(2): 1.41 s, 2 s, 2.83 s, ...; at most 41% padding), at
most `batch_seconds` of padded audio a batch (a longer file runs alone), the row count of a batch
rounded up to a power of two (spare rows repeat a file). So compiles stay few (one per grid length
and row count used) and memory is bounded by the batch: a base model holds about 2 MB of hidden
states a second of audio and its first conv 6.5 MB (512 channels x 3200 positions), the attention
scores 12 heads x T^2 floats a row (T = 50 frames a second: 12 MB for 10 s, 43 GB for 10 minutes).
Each row equals its file run alone (ssl/encoder.py; within 1e-5, tests/ssl/test_extract_batches.py).
The decoded waveforms of all files are held until the end, as the hidden states are (the .npz is
written at once), and are some 30 times smaller.

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
DEFAULT_BATCH_SECONDS = 64.0
GRID_START_SECONDS = 1.0


def padded_length(num_samples: int) -> int:
    """The grid length a file of num_samples pads to: the smallest round(16000 * 2^(k/2)) >= num_samples, k >= 0."""
    step = 0
    while (length := round(logmel.SAMPLE_RATE * GRID_START_SECONDS * 2 ** (step / 2))) < num_samples:
        step += 1
    return length


def plan_batches(lengths: Sequence[int], batch_seconds: float) -> list[tuple[int, list[int]]]:
    """[(padded length, indices into lengths)]: files by increasing length, grouped by padded length, at most
    batch_seconds of padded audio a batch (at least one file); the index list is then repeated up to a
    power-of-two row count (the module docstring)."""
    groups: dict[int, list[int]] = {}
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        groups.setdefault(padded_length(lengths[index]), []).append(index)
    batches = []
    for length, indices in groups.items():
        rows = max(1, int(batch_seconds * logmel.SAMPLE_RATE) // length)
        for start in range(0, len(indices), rows):
            chunk = indices[start:start + rows]
            filled = min(rows, 1 << (len(chunk) - 1).bit_length())
            batches.append((length, (chunk * filled)[:filled]))
    return batches


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
    """A loaded checkpoint and its jitted forward: waveforms [B, N] + mask [B, N] -> hidden states [L+1, B, T, D]."""

    def __init__(self, checkpoint_dir: str | Path):
        checkpoint_dir = Path(checkpoint_dir)
        module, self.config = load_encoder(checkpoint_dir)
        self.normalize = wants_normalize(checkpoint_dir)
        graphdef, self.state = nnx.split(module)

        @jax.jit
        def forward(state: nnx.State, waveform: jax.Array, attention_mask: jax.Array) -> jax.Array:
            return nnx.merge(graphdef, state)(waveform, attention_mask).hidden_states

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

    def hidden_states(self, waveforms: Sequence[np.ndarray], padded_length: int) -> list[np.ndarray]:
        """float32 [L+1, T_i, D] of each waveform [N_i], run as one batch padded to padded_length samples."""
        batch = np.zeros((len(waveforms), padded_length), np.float32)
        for row, samples in enumerate(waveforms):
            batch[row, :len(samples)] = samples
        mask = np.arange(padded_length)[None, :] < np.array([len(samples) for samples in waveforms])[:, None]
        hidden_states = np.asarray(self._forward(self.state, batch, mask))
        return [hidden_states[:, row, :self.config.num_frames(len(samples))] for row, samples in enumerate(waveforms)]


def extract(extractor: Extractor, paths: Sequence[Path],
            batch_seconds: float = DEFAULT_BATCH_SECONDS) -> tuple[dict[str, np.ndarray], list[str]]:
    """({npz key: hidden states [L+1, T, D]} of the usable files, one error line per other file), in input order."""
    waveforms: dict[str, np.ndarray] = {}
    errors: list[str] = []
    for path, key in output_keys(paths).items():
        try:
            waveforms[key] = extractor.waveform(path)
        except (ValueError, OSError) as e:
            errors.append(str(e))
    keys = list(waveforms)
    results: dict[str, np.ndarray] = {}
    for length, indices in plan_batches([len(waveforms[key]) for key in keys], batch_seconds):
        outputs = extractor.hidden_states([waveforms[keys[index]] for index in indices], length)
        results.update((keys[index], output) for index, output in zip(indices, outputs))
    return {key: results[key] for key in keys}, errors
