"""Masked loss functions of the head kinds: cross-entropy, regression on [0, 1], CTC.

Each returns (mean loss, labelled count), float32, the mean taken over the labelled examples of
the GLOBAL batch (under jit over a sharded batch, `sum / count` is a global reduction), so a
device whose shard holds no labelled example changes nothing. A masked label contributes exactly
zero to the loss and its gradient: masked terms are removed with `where`, never multiplied by
zero (an infinite CTC term times zero would be NaN).

A phoneme sequence that CTC cannot align in its example's encoder frames (L + adjacent repeats >
valid frames) has no CTC path: optax returns a huge finite value (about 1e5) for it, which would
swamp the phoneme loss. The pipeline masks such labels; `ctc_loss` also leaves out any that reach
it, so that value can never enter the loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from speecheq_jax.heads import scoring

REGRESSION_LOSSES: tuple[str, ...] = ("mse", "ccc")


def masked_mean(values: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean of `values` [B] over `mask` [B]; (0, 0) when nothing is labelled."""
    count = jnp.sum(mask.astype(jnp.float32))
    total = jnp.sum(jnp.where(mask, values.astype(jnp.float32), 0.0))
    return total / jnp.maximum(count, 1.0), count


def classification_loss(logits: jax.Array, labels: jax.Array, mask: jax.Array,
                        label_smoothing: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """Cross-entropy of logits [B, C] against int labels [B] over mask [B]."""
    num_classes = logits.shape[-1]
    targets = optax.smooth_labels(jax.nn.one_hot(jnp.maximum(labels, 0), num_classes), label_smoothing)
    per_example = optax.softmax_cross_entropy(logits.astype(jnp.float32), targets)
    return masked_mean(per_example, mask)


def concordance_correlation(pred: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """CCC of pred and target [B] over mask [B] (`scoring.concordance_terms`; 1e-8 keeps a constant batch finite)."""
    numerator, denominator = scoring.concordance_terms(pred, target, mask.astype(jnp.float32), jnp)
    return numerator / (denominator + 1e-8)


def regression_loss(pred: jax.Array, target: jax.Array, mask: jax.Array, kind: str = "mse"
                    ) -> tuple[jax.Array, jax.Array]:
    """Regression of pred [B] on target [B] over mask [B]: "mse", or "ccc" (1 - CCC over the batch)."""
    pred = pred.astype(jnp.float32)
    mse, count = masked_mean((pred - target) ** 2, mask)
    if kind == "mse":
        return mse, count
    if kind == "ccc":
        return jnp.where(count > 1, 1.0 - concordance_correlation(pred, target, mask), 0.0), count
    raise ValueError(f"regression loss {kind!r} (tasks.intensity_loss); expected one of {REGRESSION_LOSSES}")


def ctc_alignable(phonemes: jax.Array, phoneme_mask: jax.Array, out_lengths: jax.Array) -> jax.Array:
    """bool [B]: the example carries phonemes [B, L] that CTC can align in its out_lengths [B] frames.

    A CTC path needs one frame per token plus a blank between two equal adjacent tokens: L + repeats
    frames.
    """
    lengths = jnp.sum(phoneme_mask, axis=-1)
    repeats = jnp.sum(phoneme_mask[:, 1:] & phoneme_mask[:, :-1] & (phonemes[:, 1:] == phonemes[:, :-1]), axis=-1)
    return (lengths > 0) & (lengths + repeats <= out_lengths)


def ctc_loss(logits: jax.Array, out_mask: jax.Array, phonemes: jax.Array,
             phoneme_mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """CTC per reference token, averaged over examples whose phonemes CTC can align.

    Args:
      logits: [B, T', V + 1] frame logits, blank at index 0.
      out_mask: [B, T'] valid encoder frames.
      phonemes: [B, L] ids 1..V.
      phoneme_mask: [B, L] valid tokens; an example with none, or with an unalignable sequence
        (`ctc_alignable`), is masked.
    """
    per_seq = optax.ctc_loss(
        logits.astype(jnp.float32), 1.0 - out_mask.astype(jnp.float32),
        phonemes, 1.0 - phoneme_mask.astype(jnp.float32), blank_id=0,
    )
    lengths = jnp.sum(phoneme_mask, axis=-1)
    per_token = per_seq / jnp.maximum(lengths, 1).astype(jnp.float32)
    return masked_mean(per_token, ctc_alignable(phonemes, phoneme_mask, jnp.sum(out_mask, axis=-1)))
