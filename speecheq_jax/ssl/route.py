"""The SSL feature route of a run's data config: which checkpoint, which hidden states, stored how.

    features = ssl_features(config.data)     # None on the log-mel route
    features.layers, features.shape          # kept hidden states (0 = the projected conv features), (K, D)
    features.identity                        # what names its prepared datasets

`config.data.features` chooses the route ("logmel" | "ssl"); on "ssl", `config.data.ssl` holds
`checkpoint` (a Hugging Face directory: config.json + weights), `layers` (indexes into the L + 1
hidden states, as transformers' `output_hidden_states` counts them; None keeps all) and `dtype`
(the stored precision, "float16" | "float32") and `finetune` (ssl/finetune.py's switch: "frozen", the
default, stores the states; "top:N" | "all" | "all+cnn" fine-tunes the encoder, so the data route stores
16 kHz waveforms instead, `WAVEFORM_ROUTE`, and the model holds the encoder). A bad value is one `DataError`
line naming its key.
With `random_seed` set, a checkpoint directory that holds no config.json first gets a tiny random-weight
wav2vec 2.0 written into it (`random_checkpoint.TINY_WAV2VEC2`): configs/ssl_demo.py runs on it.

The weights are identified by the sha256 of their files (`weights_sha256`), so a dataset, a model
card and a prediction all name the exact encoder they were computed with, whatever the directory's
path.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from speecheq_jax.errors import ConfigError, DataError
from speecheq_jax.frames import LOGMEL, LOGMEL_ROUTE, SAMPLES_PER_STATE, SSL_ROUTE, WAVEFORM_ROUTE, FeatureLayout
from speecheq_jax.ssl.config import EncoderConfig, read_config
from speecheq_jax.ssl.errors import CheckpointError
from speecheq_jax.ssl.finetune import FineTuning, parse_finetune
from speecheq_jax.ssl.loader import PYTORCH_BIN, SAFETENSORS, SAFETENSORS_INDEX

DTYPES = ("float16", "float32")
FROZEN_SWITCH = "frozen"
WAVEFORM_DTYPE = "int16"
"""How the fine-tuning route stores waveforms: half float32's bytes, and lossless for the 16-bit PCM most corpora
are recorded in (a resampled file gains quantisation noise 96 dB below full scale)."""
WAVEFORM_SCALE = 32768.0
"""int16 full scale: a stored waveform / WAVEFORM_SCALE is the float32 audio (input/sources.py reads it so)."""
FEATURE_ROUTES = (LOGMEL_ROUTE.name, SSL_ROUTE.name)
"""config.data.features values (the waveform route is chosen by config.data.ssl.finetune)."""
WEIGHT_FILES = (SAFETENSORS, SAFETENSORS_INDEX, PYTORCH_BIN, "config.json")
"""Files whose bytes identify an encoder (sharded safetensors: the index and every shard)."""


@dataclasses.dataclass(frozen=True)
class SSLFeatures:
    """A resolved SSL route.

    Attributes:
      checkpoint: the checkpoint directory (absolute).
      layers: kept hidden-state indexes, sorted, each in 0..L.
      dtype: stored precision of the states.
      encoder: the checkpoint's EncoderConfig.
      weights_sha256: sha256 over config.json and the weight files (`weights_sha256`).
      finetune: the fine-tuning switch ("frozen": the stored states route).
    """

    checkpoint: Path
    layers: tuple[int, ...]
    dtype: str
    encoder: EncoderConfig
    weights_sha256: str
    finetune: str = FROZEN_SWITCH

    @property
    def finetuning(self) -> FineTuning:
        return parse_finetune(self.finetune, self.encoder)

    @property
    def fine_tuned(self) -> bool:
        """True when the encoder trains: the data are waveforms and the model holds the encoder."""
        return self.finetune != FROZEN_SWITCH

    @property
    def shape(self) -> tuple[int, int]:
        """(K, D): kept layers, hidden size."""
        return len(self.layers), self.encoder.hidden_size

    @property
    def layout(self) -> FeatureLayout:
        """What the batches hold: the stored states [T, K, D], or (fine-tuning) the waveform, one sample a frame."""
        return FeatureLayout(WAVEFORM_ROUTE, ()) if self.fine_tuned else self.states_layout

    @property
    def states_layout(self) -> FeatureLayout:
        """What the conformer's SSL front end takes: K kept states of D dims every 20 ms."""
        return FeatureLayout(SSL_ROUTE, self.shape)

    @property
    def identity(self) -> dict[str, Any]:
        """What the stored data depend on (hashed into the dataset's name; the path is not part of it): the states'
        encoder, layers and dtype; waveforms depend on none of them, so every fine-tuning run shares one dataset."""
        if self.fine_tuned:
            return {"route": WAVEFORM_ROUTE.name, "dtype": WAVEFORM_DTYPE}
        return {"weights_sha256": self.weights_sha256, "layers": list(self.layers), "dtype": self.dtype}

    def describe(self) -> dict[str, Any]:
        """The route as the model card records it: the base encoder (sha256, path, config), layers, dtype, switch."""
        return {"weights_sha256": self.weights_sha256, "layers": list(self.layers), "dtype": self.dtype,
                "finetune": self.finetune, "checkpoint": str(self.checkpoint),
                "encoder": dataclasses.asdict(self.encoder)}


@functools.cache
def _hash_files(files: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for path, _, _ in files:
        digest.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def weights_sha256(checkpoint: str | Path) -> str:
    """sha256 of config.json and the weight files of `checkpoint` (names and bytes, in name order; cached per
    file size and modification time)."""
    directory = Path(checkpoint)
    paths = sorted({p for name in WEIGHT_FILES for p in directory.glob(name)}
                   | set(directory.glob("model-*.safetensors")))
    return _hash_files(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths))


def layout_of(data: Mapping[str, Any]) -> FeatureLayout:
    """The run's batch layout: log-mel's, (K, D) of its SSL route, or the fine-tuning route's waveform."""
    features = ssl_features(data)
    return features.layout if features is not None else LOGMEL


def bucket_sizes(data: Mapping[str, Any]) -> tuple[int, ...]:
    """The run's batch lengths: `config.data.buckets` (in 20 ms states on both SSL routes, so one switch changes the
    route), in samples on the fine-tuning route (x SAMPLES_PER_STATE)."""
    buckets = tuple(int(b) for b in data["buckets"])
    features = ssl_features(data)
    return tuple(b * SAMPLES_PER_STATE for b in buckets) if features is not None and features.fine_tuned else buckets


def ssl_features(data: Mapping[str, Any]) -> SSLFeatures | None:
    """The SSL route of `config.data`, None on the log-mel route. DataError (one line, naming the key) if bad."""
    route = data.get("features", "logmel")
    if route not in FEATURE_ROUTES:
        raise DataError(f"config.data.features = {route!r}; expected one of {list(FEATURE_ROUTES)}")
    if route != SSL_ROUTE.name:
        return None
    ssl = dict(data.get("ssl") or {})
    checkpoint, layers, dtype = ssl.get("checkpoint"), ssl.get("layers"), ssl.get("dtype", "float16")
    if not checkpoint:
        raise DataError("config.data.ssl.checkpoint is not set: name a Hugging Face checkpoint directory "
                        "(config.json + model.safetensors)")
    checkpoint = Path(str(checkpoint)).expanduser().resolve()
    if ssl.get("random_seed") is not None and not (checkpoint / "config.json").is_file():
        from speecheq_jax.ssl.random_checkpoint import TINY_WAV2VEC2, write_random_checkpoint

        write_random_checkpoint(checkpoint, TINY_WAV2VEC2, seed=int(ssl["random_seed"]))
    if not checkpoint.is_dir():
        raise DataError(f"config.data.ssl.checkpoint = {str(checkpoint)!r} is not a directory")
    try:
        encoder = read_config(checkpoint)
    except CheckpointError as e:
        raise DataError(f"config.data.ssl.checkpoint: {e}") from None
    states = encoder.num_hidden_layers + 1
    if layers is None:
        layers = tuple(range(states))
    if isinstance(layers, int):
        layers = (layers,)
    try:
        layers = tuple(sorted({int(i) for i in layers}))
    except (TypeError, ValueError):
        raise DataError(f"config.data.ssl.layers = {layers!r}; expected hidden-state indexes "
                        f"in 0..{states - 1} or None (all)") from None
    if not layers or layers[0] < 0 or layers[-1] >= states:
        raise DataError(f"config.data.ssl.layers = {list(layers)}; the checkpoint has hidden states "
                        f"0..{states - 1} (0: the projected conv features)")
    if dtype not in DTYPES:
        raise DataError(f"config.data.ssl.dtype = {dtype!r}; expected one of {list(DTYPES)}")
    finetune = str(ssl.get("finetune") or FROZEN_SWITCH)
    try:
        parse_finetune(finetune, encoder)
    except ConfigError as e:
        raise DataError(f"config.data.ssl.finetune: {e}") from None
    if finetune != FROZEN_SWITCH and (encoder.num_frames(16000), encoder.min_samples) != (49, 400):
        raise DataError(f"config.data.ssl.finetune = {finetune!r} needs the standard conv stack (400-sample "
                        "receptive field, 320-sample stride); this checkpoint's differs")
    return SSLFeatures(checkpoint, layers, dtype, encoder, weights_sha256(checkpoint), finetune)
