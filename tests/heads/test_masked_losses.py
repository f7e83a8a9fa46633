"""The heads' masked losses: masking, global-batch averaging, label smoothing, CCC, CTC."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from speecheq_jax.heads import masked_losses

pytestmark = pytest.mark.unit


def test_masked_examples_contribute_nothing_to_loss_or_gradient():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(6, 7)), jnp.float32)
    labels = jnp.asarray([0, 3, 5, 1, 2, 6])
    mask = jnp.asarray([True, True, False, True, False, False])

    def loss_fn(x):
        return masked_losses.classification_loss(x, labels, mask)[0]

    loss, grad = jax.value_and_grad(loss_fn)(logits)
    expected = optax.softmax_cross_entropy_with_integer_labels(logits[mask], labels[mask]).mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_array_equal(grad[~np.asarray(mask)], 0.0)
    assert np.all(np.abs(grad[np.asarray(mask)]).sum(-1) > 0)


def test_a_task_with_no_labels_gives_zero_loss_and_count():
    loss, count = masked_losses.regression_loss(jnp.ones(4), jnp.zeros(4), jnp.zeros(4, bool))
    assert float(loss) == 0.0 and float(count) == 0.0


def test_label_smoothing_matches_optax():
    logits = jnp.asarray([[2.0, 0.0, -1.0]])
    loss, _ = masked_losses.classification_loss(logits, jnp.asarray([0]), jnp.asarray([True]), label_smoothing=0.1)
    target = jnp.asarray([[0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]])
    np.testing.assert_allclose(loss, optax.softmax_cross_entropy(logits, target)[0], rtol=1e-6)


def test_ccc_loss_is_zero_for_perfect_prediction_and_ignores_masked():
    target = jnp.asarray([0.1, 0.5, 0.9, 0.3])
    pred = target.at[3].set(100.0)
    mask = jnp.asarray([True, True, True, False])
    loss, count = masked_losses.regression_loss(pred, target, mask, kind="ccc")
    assert float(count) == 3.0 and abs(float(loss)) < 1e-6
    x, y = np.array([0.1, 0.4, 0.8]), np.array([0.2, 0.3, 0.9])
    ccc = 2 * np.cov(x, y, bias=True)[0, 1] / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    np.testing.assert_allclose(masked_losses.concordance_correlation(jnp.asarray(x), jnp.asarray(y), jnp.ones(3, bool)), ccc, rtol=1e-5)
    with pytest.raises(ValueError, match="regression loss 'mae'"):
        masked_losses.regression_loss(pred, target, mask, kind="mae")


def test_ctc_is_per_token_and_masks_examples_without_phonemes():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(3, 12, 5)), jnp.float32)
    out_mask = jnp.ones((3, 12), bool).at[1, 9:].set(False)
    phonemes = jnp.asarray([[1, 2, 3, 0], [4, 4, 0, 0], [0, 0, 0, 0]])
    phoneme_mask = phonemes > 0
    loss, count = masked_losses.ctc_loss(logits, out_mask, phonemes, phoneme_mask)
    per_seq = optax.ctc_loss(logits, 1.0 - out_mask, phonemes, 1.0 - phoneme_mask)
    assert float(count) == 2.0
    np.testing.assert_allclose(loss, (per_seq[0] / 3 + per_seq[1] / 2) / 2, rtol=1e-5)
    grad = jax.grad(lambda x: masked_losses.ctc_loss(x, out_mask, phonemes, phoneme_mask)[0])(logits)
    np.testing.assert_array_equal(grad[2], 0.0)


def test_unalignable_ctc_targets_never_reach_the_loss():
    # Row 1 has 5 tokens in 4 frames; row 2 has 3 tokens + 2 adjacent repeats (5 frames needed) in 4:
    # optax gives each about 1e5. Row 0 (2 tokens + 1 repeat in 4 frames) is alignable.
    rng = np.random.default_rng(3)
    logits = jnp.asarray(rng.normal(size=(3, 6, 6)), jnp.float32)
    out_mask = jnp.ones((3, 6), bool).at[:, 4:].set(False)
    phonemes = jnp.asarray([[2, 2, 0, 0, 0], [1, 2, 3, 4, 5], [3, 3, 3, 0, 0]])
    phoneme_mask = phonemes > 0
    np.testing.assert_array_equal(masked_losses.ctc_alignable(phonemes, phoneme_mask, jnp.full(3, 4)), [True, False, False])
    per_seq = optax.ctc_loss(logits, 1.0 - out_mask, phonemes, 1.0 - phoneme_mask)
    assert float(per_seq[1]) > 1e4 and float(per_seq[2]) > 1e4
    loss, count = masked_losses.ctc_loss(logits, out_mask, phonemes, phoneme_mask)
    assert float(count) == 1.0
    np.testing.assert_allclose(loss, per_seq[0] / 2, rtol=1e-5)
    grad = jax.grad(lambda x: masked_losses.ctc_loss(x, out_mask, phonemes, phoneme_mask)[0])(logits)
    np.testing.assert_array_equal(grad[1:], 0.0)
