"""A new head is one spec plus one registry line: a toy "valence" head through the generic code.

This module is the toy head's spec module (`SPEC`); the fixture adds its registry line. The
model, the train step's loss, evaluation, metrics, the report and prediction records then handle
it without a change anywhere else; so do preparation and the input pipeline: the end-to-end test
reads a toy corpus whose reader puts the label in `Utterance.extra_labels`, prepares it with the
real TFDS builder and trains two steps through the real Grain pipeline.
"""

from __future__ import annotations

import json
import types

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from flax import nnx

from speecheq_jax import labels
from speecheq_jax.corpora import protocols, registry
from speecheq_jax.corpora.corpus_data import Exclusions, RawUtterance, require_root, wav_files
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.eval.evaluator import evaluate
from speecheq_jax.eval.prediction_io import prediction_records
from speecheq_jax.eval.report import write_report
from speecheq_jax.heads import HEAD_MODULES, head_specs, masked_losses
from speecheq_jax.heads.contract import Column, HeadSpec, Kind, extra_label, utterance_label_count
from speecheq_jax.input import pipeline
from speecheq_jax.jobs.train_and_evaluate import train_and_evaluate
from speecheq_jax.model.speecheq import SpeechEQ, prediction_outputs
from speecheq_jax.prep import prepare
from speecheq_jax.run_config import base_config
from speecheq_jax.train import mesh as mesh_lib
from speecheq_jax.train import step as step_lib
from tests.corpora import fixtures
from tests.model.synthetic import NUM_CATEGORIES, NUM_PHONEMES, random_batch, small_config
from tests.tiny_run import tiny_demo_config


def _valence_metrics(true, predicted, group):
    labelled = true != -1
    if not labelled.any():
        return {}
    return {"valence/n": int(labelled.sum()), "valence/mae": float(np.mean(np.abs(predicted - true)[labelled]))}


SPEC = HeadSpec(
    name="valence",
    kind=Kind.UTTERANCE_REGRESSION,
    label="valence",
    label_mask="valence_mask",
    data=extra_label("valence"),
    default_weight=0.5,
    output_size=lambda sizes: 1,
    activation=lambda logit: jax.nn.sigmoid(logit[:, 0]),
    loss=lambda pred, out_mask, batch, options: masked_losses.regression_loss(pred, batch["valence"], batch["valence_mask"]),
    label_count=utterance_label_count("valence_mask"),
    eval_output="valence",
    eval_transform=lambda pred: pred,
    metrics=_valence_metrics,
    bad_truth=lambda true: (true != -1) & ((true < 0) | (true > 1)),
    headline_columns=(Column("val. MAE", "valence/mae", "valence MAE"),),
    count_columns=(Column("valence", "valence/n"),),
    record_fields=lambda value, card: {"valence": round(float(value), 6)},
)


@pytest.fixture
def valence_registered(monkeypatch):
    monkeypatch.setitem(HEAD_MODULES, "valence", __name__)


def _batch():
    batch = random_batch([40, 29, 12], 40)
    batch["valence"] = np.array([0.2, 0.9, 0.5], np.float32)
    batch["valence_mask"] = np.array([True, True, False])
    batch["category"][:] = [0, 1, 2]
    batch["category_mask"][:] = True
    batch["example_mask"][:] = True
    batch["index"][:] = [2, 0, 1]
    return batch


@pytest.mark.unit
def test_a_registered_toy_head_trains_evaluates_reports_and_predicts(valence_registered, tmp_path):
    assert [spec.name for spec in head_specs(["valence", "category"])] == ["category", "valence"]
    config = small_config(heads=("category", "valence"), num_layers=1, d_model=32, num_heads=2,
                          pooling_attention_dim=16)
    model = SpeechEQ(config, num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES, rngs=nnx.Rngs(0))
    assert "valence" in model.utterance_heads and "valence" in model.poolings
    batch = _batch()

    # Train: the step's loss function weighs it like any head, and its parameters get a gradient.
    config = base_config("tiny")
    config.tasks.weights = {"category": 1.0, "valence": 0.5}
    trainable = types.SimpleNamespace(model=model, log_vars=None)
    _, (metrics, output) = step_lib._loss_and_metrics(trainable, batch, config)
    assert output.heads["valence"].shape == (3,) and float(metrics["count_valence"]) == 2.0
    assert float(metrics["weight_valence"]) == 0.5 and float(metrics["loss_valence"]) > 0

    def total_loss(model):
        return step_lib._loss_and_metrics(types.SimpleNamespace(model=model, log_vars=None), batch, config)[0]

    grads = nnx.grad(total_loss)(model)
    valence_grads = nnx.state(grads["utterance_heads"]["valence"])
    assert any(np.abs(np.asarray(leaf)).max() > 0 for leaf in jax.tree.leaves(valence_grads))

    # Evaluate: the eval outputs carry it, evaluation gathers it, the metrics and the report show it.
    model.eval()
    outputs = prediction_outputs(model(batch))
    assert set(outputs) == {"out_mask", "category_prob", "valence"}
    records = [{"corpus": "cremad", "speaker": s} for s in ("a", "b", "c")]
    step = lambda state, b: (prediction_outputs(model(b)), {})  # noqa: E731
    result, predictions = evaluate(step, None, [batch], records, categories=("neutral", "happy", "angry", "sad",
                                                                             "surprise", "fear"))
    np.testing.assert_allclose(predictions.truth["valence"], [0.9, -1.0, 0.2])  # record order, -1 = masked
    pred = np.asarray(outputs["valence"])[[1, 2, 0]]
    assert result["overall"]["valence/n"] == 2
    assert result["overall"]["valence/mae"] == pytest.approx(np.mean(np.abs(pred[[0, 2]] - [0.9, 0.2])), rel=1e-6)
    markdown = write_report(tmp_path, result)["report"].read_text()
    assert "| val. MAE |" in markdown and f"{result['overall']['valence/mae']:.3f}" in markdown

    # Predict: its JSON field.
    card = {"labels": {"categories": list("abcdef"), "genders": ["F", "M"]}, "phonemes": []}
    (record,) = prediction_records(["x.wav"], jax.device_get(outputs), card)
    assert record["valence"] == round(float(outputs["valence"][0]), 6) and "category" in record


# --- the end-to-end data path: a toy corpus carrying the toy label -------------------------------
TOY_SPEAKERS = ("v1F", "v2M", "v3F", "v4M", "v5F", "v6M")
TOY_FILES = {"calm_0": 0.1, "calm_1": 0.3, "mad_2": 0.7, "mad_3": 0.9}
"""<speaker>/<emotion>_<n>.wav -> its valence."""


def _read_valence_corpus(root, options):
    root = require_root(root, "valence_toy", "<speaker>/<emotion>_<n>.wav")
    excluded = Exclusions(options.strict)
    raws = [RawUtterance(id=f"{folder.name}_{wav.stem}", audio_path=wav, speaker=folder.name, gender=folder.name[-1],
                         lang="eng", text=None, native_label=wav.stem.split("_")[0], group="", source=str(wav),
                         extra_labels={"valence": TOY_FILES[wav.stem]})
            for folder in sorted(p for p in root.iterdir() if p.is_dir()) for wav in wav_files(folder, excluded)]
    return unify(VALENCE_CORPUS, root, raws, options, excluded)


VALENCE_CORPUS = CorpusSpec(
    name="valence_toy", title="Valence toy", read=_read_valence_corpus, layout="<speaker>/<emotion>_<n>.wav",
    protocols=(protocols.SPEAKER_INDEPENDENT,),
    labels=labels.CorpusLabels(categories={"calm": "neutral", "mad": "angry"}),
)


@pytest.fixture
def valence_corpus(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "SPECS", dict(registry.SPECS))
    registry.register(VALENCE_CORPUS)
    for i, speaker in enumerate(TOY_SPEAKERS):
        for j, name in enumerate(TOY_FILES):
            fixtures.write_wav(tmp_path / "corpus" / speaker / f"{name}.wav", seconds=0.5, seed=10 * i + j)
    return tmp_path / "corpus"


@pytest.mark.integration
def test_a_new_heads_label_is_prepared_batched_and_trained(valence_registered, valence_corpus, tmp_path):
    prepared = prepare.prepare("valence_toy", tmp_path / "data", root=valence_corpus, progress=False)
    record = tfds.builder_from_directory(str(prepared.path)).as_data_source()["v1F"][0]
    assert np.float32(record["valence"]) in np.float32(list(TOY_FILES.values()))

    config = tiny_demo_config(tmp_path / "data", steps=2)
    config.data.corpora = [{"name": "valence_toy", "root": str(valence_corpus), "fold": "fold1", "protocol": None,
                            "weight": 1.0}]
    config.data.buckets = (64,)
    config.data.batch_size = 8
    config.model.heads = ("category", "valence")
    config.train.best_metric = "valid/overall/valence/mae"
    batch = next(iter(pipeline.make_train_iterator(config.data, mesh_lib.make_mesh(config))))
    batch = jax.device_get(batch)
    assert batch["valence"].shape == (8,) and batch["valence_mask"].all()
    assert np.isin(batch["valence"], np.float32(list(TOY_FILES.values()))).all()

    results = train_and_evaluate(config, tmp_path / "run")
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [line for line in lines if "train/loss_valence" in line]
    assert trained and all(line["train/weight_valence"] == 0.5 and line["train/count_valence"] > 0 for line in trained)
    test = results["test"]["overall"]
    assert test["valence/n"] > 0 and test["valence/n"] % len(TOY_FILES) == 0  # whole test speakers, all labelled
    assert 0.0 <= test["valence/mae"] <= 1.0
