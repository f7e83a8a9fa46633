"""The model card: everything needed to use a trained model without its training data.

A run writes it to `<workdir>/model_card.json` when training starts and into
every checkpoint's metadata, so `--mode predict` and `--mode export` work on a
machine that never saw the prepared datasets, and `--mode evaluate` needs only
the data it evaluates on. It is plain JSON (the ONNX predictor reads it with
nothing but `json`):

    format           CARD_FORMAT
    name             the config's name
    config           the full run config (ConfigDict as a dict)
    labels           categories [C] (index = category output), genders [2]
    phonemes         the run vocabulary: CTC output id i + 1 is phonemes[i], 0 is blank
    cmvn             pooled {mean [80], std [80]} (used on raw audio) and per corpus
    features         log-mel parameters (features/logmel.py), the model's time
                     subsampling, the shortest audio prediction accepts; on the SSL
                     route instead: route "ssl", the encoder (its config.json fields,
                     the sha256 of its weight files, the checkpoint path it was read
                     from), the kept layers, the stored dtype and the states' shape [K, D]
                     (the SSL route has no CMVN: `cmvn` is empty), the fine-tuning switch
                     `finetune`; a fine-tuned model's route is "waveform" (shape [], samples
                     at 16 kHz; the encoder's trained weights are in the checkpoint)
    buckets          frame lengths the model was trained and evaluated on
    training_data    per corpus: protocol, fold, units and example counts of
                     train/valid/test, and the label mapping applied
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ml_collections
import numpy as np

from speecheq_jax import labels, storage
from speecheq_jax.features import logmel
from speecheq_jax.frames import LOGMEL, MIN_SECONDS, NUM_MELS, ROUTES, SUBSAMPLING, FeatureLayout

if TYPE_CHECKING:
    from speecheq_jax.input.data_spec import DataSpec

CARD_FORMAT = 1
CARD_FILE = "model_card.json"


def feature_parameters() -> dict[str, Any]:
    """The log-mel definition (features/logmel.py) and the input limits of the model."""
    return {
        "sample_rate": logmel.SAMPLE_RATE, "n_fft": logmel.N_FFT, "win_length": logmel.WIN_LENGTH,
        "hop_length": logmel.HOP_LENGTH, "num_mels": NUM_MELS, "log_floor": logmel.LOG_FLOOR,
        "subsampling": SUBSAMPLING, "min_seconds": MIN_SECONDS,
    }


def ssl_feature_parameters(data_config: ml_collections.ConfigDict) -> dict[str, Any] | None:
    """The SSL route's card section (None on log-mel): which encoder, which layers, stored how."""
    from speecheq_jax.ssl.route import ssl_features  # here: reading a card must not load the encoder code

    features = ssl_features(data_config)
    if features is None:
        return None
    route = features.layout.route
    return {"route": route.name, "key": route.key, "subsampling": route.subsampling,
            "frame_seconds": route.frame_seconds, "shape": list(features.layout.shape),
            "sample_rate": logmel.SAMPLE_RATE, "min_seconds": MIN_SECONDS, **features.describe()}


def feature_layout(card: Mapping[str, Any]) -> FeatureLayout:
    """The feature route and per-frame shape a card's model takes (cards without a route: log-mel)."""
    features = card["features"]
    if "route" not in features:
        return LOGMEL
    return FeatureLayout(ROUTES[features["route"]], tuple(features["shape"]))


def training_data(data_config: ml_collections.ConfigDict) -> list[dict[str, Any]]:
    """Per configured corpus: protocol, fold, units and example counts per split, label mapping."""
    from speecheq_jax.prep.prepare import open_entry  # here: reading a card must not import TFDS

    summary = []
    for entry in data_config.corpora:
        name = entry["name"]
        dataset = open_entry(data_config, entry)
        protocol = entry.get("protocol") or next(iter(dataset.folds))
        fold = dataset.fold(protocol, entry.get("fold"))
        summary.append({
            "corpus": name, "protocol": protocol, "fold": fold["name"],
            "speaker_dependent": bool(fold["speaker_dependent"]),
            "units": {split: list(units) for split, units in fold["units"].items()},
            "examples": {split: sum(dataset.split_sizes[u] for u in units) for split, units in fold["units"].items()},
            "labels": dataset.labels,
        })
    return summary


def build_card(config: ml_collections.ConfigDict, spec: DataSpec) -> dict[str, Any]:
    """The model card of a run (datasets must be prepared: this is called at training start)."""
    return {
        "format": CARD_FORMAT,
        "name": config.name,
        "config": json.loads(config.to_json_best_effort()),
        "labels": {"categories": list(spec.categories), "genders": list(labels.GENDERS)},
        "phonemes": list(spec.vocab),
        "cmvn": {
            "pooled": _mean_std(*spec.pooled_cmvn),
            "corpora": {name: _mean_std(*stats) for name, stats in spec.cmvn.items()},
        },
        "features": ssl_feature_parameters(config.data) or feature_parameters(),
        "buckets": list(spec.buckets),
        "training_data": training_data(config.data),
    }


def _mean_std(mean: np.ndarray, std: np.ndarray) -> dict[str, list[float]]:
    return {"mean": np.asarray(mean, np.float32).tolist(), "std": np.asarray(std, np.float32).tolist()}


def write_card(card: Mapping[str, Any], directory: storage.PathLike) -> storage.AnyPath:
    """Writes `<directory>/model_card.json` (local or in a bucket)."""
    path = storage.as_path(directory) / CARD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def check_format(card: Mapping[str, Any], where: str | Path) -> dict[str, Any]:
    """`card` if this code reads its format; ValueError naming `where` otherwise."""
    if card.get("format") != CARD_FORMAT:
        raise ValueError(f"{where}: model card format {card.get('format')!r}, this code reads {CARD_FORMAT}")
    return dict(card)


def read_card(directory: str | Path) -> dict[str, Any]:
    """Reads `<directory>/model_card.json`; a clear error if it is missing or of another format."""
    path = Path(directory) / CARD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {CARD_FILE} in {directory}: not a run or export directory")
    return check_format(json.loads(path.read_text(encoding="utf-8")), path)
