"""The SSL feature route: preparation stores what the encoder computes, beside an untouched log-mel dataset; a tiny
run trains, evaluates, predicts from a wav file (encoder inside) and exports ONNX that agrees with JAX; fine-tuning
(top:1 on waveforms) trains, checkpoints, resumes, evaluates and predicts with its own encoder, frozen weights
untouched; bad route settings are one line naming their key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from flax import nnx

from speecheq_jax import model_card
from speecheq_jax import predict as onnx_predict
from speecheq_jax.errors import DataError
from speecheq_jax.jobs import evaluate_checkpoint as evaluate_lib
from speecheq_jax.jobs import predict_files as predict_lib
from speecheq_jax.jobs import train_and_evaluate as train_lib
from speecheq_jax.jobs.export_run import export_run
from speecheq_jax.jobs.ssl_inference import waveform_model
from speecheq_jax.prep import prepare as prepare_lib
from speecheq_jax.run_config import ConfigError
from speecheq_jax.ssl.extract import Extractor
from speecheq_jax.ssl.loader import load_encoder
from speecheq_jax.ssl.route import ssl_features
from speecheq_jax.train.optimizer import FROZEN
from tests.test_configs import load_config_module
from tests.tiny_run import shrink

pytestmark = pytest.mark.integration
SYNTH = {"num": 40, "seed": 0, "langs": ("cmn", "eng")}


def _tree_digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ssl_config(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("speecheq_data")
    config = load_config_module("ssl_demo").get_config("steps=4")
    config.data.synth = SYNTH
    config.data.ssl.checkpoint = str(data_dir / "random_encoder")
    config.data.ssl.layers = (0, 2)
    config = shrink(config, data_dir, buckets=(192, 384))
    return config


def test_prepared_states_are_the_encoders_beside_an_untouched_log_mel_dataset(ssl_config):
    data = ssl_config.data
    logmel = prepare_lib.prepare("seqd_synth", data.data_dir, synth=SYNTH, progress=False)
    before = _tree_digest(logmel.path)
    features = ssl_features(data)
    prepared = prepare_lib.prepare("seqd_synth", data.data_dir, synth=SYNTH, progress=False, ssl=features)
    assert prepared.path != logmel.path and prepared.path.parent.parent == logmel.path.parent.parent
    assert _tree_digest(logmel.path) == before
    assert prepared.config != logmel.config  # the route is part of the dataset's name

    extractor = Extractor(features.checkpoint)
    records = tfds.builder_from_directory(str(prepared.path)).as_data_source()
    raw = Path(data.data_dir) / "downloads"
    audio = {p.stem: p for p in raw.rglob("*.wav")}
    unit = next(iter(prepared.split_sizes))
    for index in range(prepared.split_sizes[unit]):
        record = records[unit][index]
        stored = record["ssl_states"]
        samples = extractor.waveform(audio[record["id"].decode()])
        (alone,) = extractor.hidden_states([samples], len(samples))
        expected = alone[[0, 2]].transpose(1, 0, 2)
        assert stored.dtype == np.float16 and stored.shape == expected.shape == (record["num_frames"], 2, 64)
        np.testing.assert_allclose(stored.astype(np.float32), expected, rtol=1e-3, atol=1e-3)


def test_a_tiny_run_trains_evaluates_predicts_and_exports_on_ssl_states(ssl_config, tmp_path):
    workdir = tmp_path / "run"
    metrics = train_lib.train_and_evaluate(ssl_config, workdir)
    overall = metrics["test"]["overall"]
    assert {"category/ua", "phoneme/per", "gender/accuracy"} <= set(overall) and overall["n"] > 0

    card = model_card.read_card(workdir)
    features = ssl_features(ssl_config.data)
    assert card["features"]["route"] == "ssl" and card["features"]["layers"] == [0, 2]
    assert card["features"]["weights_sha256"] == features.weights_sha256
    assert card["features"]["encoder"]["hidden_size"] == 64 and card["features"]["shape"] == [2, 64]

    wav = next((Path(ssl_config.data.data_dir) / "downloads").rglob("*.wav"))
    (with_jax,) = predict_lib.predict(ssl_config, workdir, [wav], checkpoint="latest")
    assert "error" not in with_jax and with_jax["segments"]

    export = export_run(ssl_config, workdir, "latest", onnx_frames=(256,))  # one file of 2.56 s of samples
    exported = model_card.read_card(export)
    assert exported["export"]["onnx"]["files"] == {"40960": "model_N40960.onnx"}
    assert exported["export"]["onnx"]["inputs"] == ["waveform", "sample_mask"]
    assert "sha256" in (export / "model_card.md").read_text()
    output = tmp_path / "onnx.jsonl"
    assert onnx_predict.main(["--model", str(export), "--input", str(wav), "--output", str(output)]) == 0
    (with_onnx,) = [json.loads(line) for line in output.read_text().splitlines()]
    for ours, theirs in zip(with_jax["segments"], with_onnx["segments"], strict=True):
        for name, p in ours["category_probs"].items():
            assert abs(p - theirs["category_probs"][name]) <= 2e-3

    restored = evaluate_lib.restore_for_eval(ssl_config, workdir, "latest")
    other = dataclasses.replace(restored, card={**restored.card,
                                                "features": {**restored.card["features"], "weights_sha256": "0" * 64}})
    with pytest.raises(ConfigError, match="differs from the model card"):
        waveform_model(other)


def test_fine_tuning_top1_trains_resumes_evaluates_and_predicts_with_its_own_encoder(ssl_config, tmp_path):
    config = ml_collections.ConfigDict(ssl_config.to_dict())
    config.data.ssl.finetune = "top:1"
    config.data.buckets = (384,)  # 7.68 s: one batch shape to compile
    config.train.num_steps = 2
    workdir = tmp_path / "finetune"
    train_lib.train_and_evaluate(config, workdir)
    config.train.num_steps = 4  # resumes from step 2
    metrics = train_lib.train_and_evaluate(config, workdir)
    assert metrics["test"]["overall"]["n"] > 0
    assert sorted(int(p.name) for p in workdir.glob("checkpoints/*") if p.name.isdigit())[-1] == 4

    features = ssl_features(config.data)
    card = model_card.read_card(workdir)
    assert card["features"]["route"] == "waveform" and card["features"]["finetune"] == "top:1"
    assert card["features"]["weights_sha256"] == features.weights_sha256 and card["buckets"] == [384 * 320]
    prepared = prepare_lib.prepare("seqd_synth", config.data.data_dir, synth=SYNTH, progress=False, ssl=features)
    record = tfds.builder_from_directory(str(prepared.path)).as_data_source()[next(iter(prepared.split_sizes))][0]
    assert record["waveform"].dtype == np.int16 and record["num_frames"] == len(record["waveform"])

    restored = evaluate_lib.restore_for_eval(config, workdir, "latest")
    tuned = nnx.to_flat_state(nnx.state(waveform_model(restored).encoder, nnx.Param))
    base = dict(nnx.to_flat_state(nnx.state(load_encoder(features.checkpoint)[0], nnx.Param)))
    finetuning = features.finetuning
    kinds = set()
    for path, value in tuned:
        row = finetuning.first_trained_row(".".join(map(str, path)))
        ours, theirs = np.asarray(value[...]), np.asarray(base[path][...])
        frozen = ours if row == FROZEN else ours[:row]
        np.testing.assert_array_equal(frozen, theirs if row == FROZEN else theirs[:row])
        if row != FROZEN:
            assert not np.array_equal(ours[row:], theirs[row:]), path
        kinds.add("frozen" if row == FROZEN else "trained" if row == 0 else "partly")
    assert kinds == {"frozen", "partly"}  # post-LN wav2vec 2.0: nothing above the layers (row 0) to train

    wav = next((Path(config.data.data_dir) / "downloads").rglob("*.wav"))
    (prediction,) = predict_lib.predict(config, workdir, [wav], checkpoint="latest")
    assert "error" not in prediction and prediction["segments"]


@pytest.mark.parametrize("ssl, key", [
    ({"checkpoint": None}, "config.data.ssl.checkpoint"),
    ({"checkpoint": "/no/such/dir"}, "config.data.ssl.checkpoint"),
    ({"layers": (0, 7)}, "config.data.ssl.layers"),
    ({"dtype": "bfloat16"}, "config.data.ssl.dtype"),
    ({"finetune": "top:3"}, "config.data.ssl.finetune"),
    ({"finetune": "some"}, "config.data.ssl.finetune"),
])
def test_bad_route_settings_name_their_key(ssl_config, ssl, key):
    ssl_features(ssl_config.data)  # writes the random checkpoint the other settings are checked against
    data = ssl_config.data.to_dict()
    data["ssl"] = {**data["ssl"], "random_seed": None, **ssl}
    with pytest.raises(DataError, match=key.replace(".", r"\.")):
        ssl_features(data)
    with pytest.raises(DataError, match="config.data.features"):
        ssl_features({"features": "mfcc"})
