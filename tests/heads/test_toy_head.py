"""A new head is one spec plus one registry line: a toy "valence" head through the generic code.

This module is the toy head's spec module (`SPEC`); the fixture adds its registry line. The
model, the train step's loss, evaluation, metrics, the report and prediction records then handle
it without a change anywhere else.
"""

from __future__ import annotations

import types

import jax
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.eval.evaluator import evaluate
from speecheq_jax.eval.prediction_io import prediction_records
from speecheq_jax.eval.report import write_report
from speecheq_jax.heads import HEAD_MODULES, head_specs, masked_losses
from speecheq_jax.heads.contract import Column, HeadSpec, Kind, utterance_label_count
from speecheq_jax.model.speecheq import SpeechEQ, prediction_outputs
from speecheq_jax.run_config import base_config
from speecheq_jax.train import step as step_lib
from tests.model.synthetic import NUM_CATEGORIES, NUM_PHONEMES, random_batch, small_config

pytestmark = pytest.mark.unit


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
