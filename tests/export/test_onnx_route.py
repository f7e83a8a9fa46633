"""The ONNX route on small functions: lax.scan converts (the encoder may scan over its blocks),
batch stays dynamic, and the export's self-check catches a file that disagrees with JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import onnxruntime
import pytest

from speecheq_jax.export import onnx_model

pytestmark = pytest.mark.unit


def _scanned_forward(scale: float):
    """(logmel [B,T,80], mask [B,T]) -> outputs like the model's, through lax.scan over 3 stacked layers."""
    weights = jnp.stack([jnp.eye(80) * scale + 0.01 * i for i in range(3)])

    def forward(logmel, frame_mask):
        def layer(x, w):
            return jnp.tanh(x @ w) * frame_mask[..., None], None

        frames, _ = jax.lax.scan(layer, logmel, weights)
        pooled = frames.sum(axis=1) / jnp.maximum(frame_mask.sum(axis=1, keepdims=True), 1)
        return {"category_prob": jax.nn.softmax(pooled[:, :7], axis=-1), "out_mask": frame_mask[:, ::4]}

    return forward


def test_lax_scan_converts_and_keeps_a_dynamic_batch(tmp_path):
    forward = _scanned_forward(0.5)
    files = onnx_model.export_onnx(forward, tmp_path, frames=(16,))  # includes the check against JAX
    session = onnxruntime.InferenceSession(str(tmp_path / files[16]), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "B"
    logmel = np.random.default_rng(0).standard_normal((5, 16, 80)).astype(np.float32)
    mask = np.ones((5, 16), bool)
    got = session.run(["category_prob"], {"logmel": logmel, "frame_mask": mask})[0]
    np.testing.assert_allclose(got, forward(logmel, mask)["category_prob"], atol=1e-6)


def test_the_self_check_refuses_a_file_that_disagrees_with_jax(tmp_path):
    files = onnx_model.export_onnx(_scanned_forward(0.5), tmp_path, frames=(16,))
    with pytest.raises(RuntimeError, match="ONNX and JAX outputs differ"):
        onnx_model.check_against_jax(_scanned_forward(2.0), tmp_path / files[16], 16)


def test_the_predictor_says_in_one_line_when_the_directory_is_not_an_export(tmp_path):
    from speecheq_jax import predict

    with pytest.raises(SystemExit, match=r"^error: no model_card.json in .*: not a run or export directory$"):
        predict.main(["--model", str(tmp_path), "--input", "x.wav", "--output", str(tmp_path / "out.jsonl")])
