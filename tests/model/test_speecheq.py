"""The SpeechEQ model: head shapes, padding invariance, gradients, compilation per bucket, bf16."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from speecheq_jax.model.model_config import HEAD_NAMES
from speecheq_jax.model.speecheq import ModelOutput, SpeechEQ
from tests.model.synthetic import NUM_CATEGORIES, NUM_PHONEMES, random_batch, small_config

pytestmark = pytest.mark.unit


def _model(seed: int = 0, **overrides) -> SpeechEQ:
    return SpeechEQ(small_config(**overrides), num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES,
                    rngs=nnx.Rngs(seed))


def _jitted(model: SpeechEQ):
    """A jitted forward of the model's current state (split/merge, the way the train step calls it)."""
    graphdef, state = nnx.split(model)
    forward = jax.jit(lambda state, batch: nnx.merge(graphdef, state)(batch))
    return lambda batch: forward(state, batch)


@pytest.mark.parametrize(
    "heads, shared_pooling",
    [(HEAD_NAMES, False), (HEAD_NAMES, True), (("category",), False), (("phoneme",), False),
     (("intensity", "gender"), True)],
)
def test_output_shapes_for_head_subsets(heads, shared_pooling):
    model = _model(heads=heads, shared_pooling=shared_pooling)
    output = _jitted(model)(random_batch([24, 13], 24))
    expected = {"category": (2, NUM_CATEGORIES), "intensity": (2,), "gender": (2, 2), "phoneme": (2, 6, NUM_PHONEMES + 1)}
    assert set(output.heads) == set(heads)
    for head, value in output.heads.items():
        assert value.shape == expected[head] and value.dtype == jnp.float32, head
    assert output.out_mask.shape == (2, 6)
    np.testing.assert_array_equal(np.asarray(output.out_mask).sum(axis=1), [6, 4])
    if "intensity" in heads:
        assert ((output.heads["intensity"] > 0) & (output.heads["intensity"] < 1)).all()


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_utterance_gives_same_outputs_alone_and_padded(norm):
    """Row 0 (37 frames) alone in a 40-frame bucket vs beside a 64-frame utterance with garbage padding."""
    model = _model(norm=norm, dropout=0.1, attention_dropout=0.1)
    model.eval()
    forward = _jitted(model)
    alone = forward(random_batch([37], 40))
    padded = forward(random_batch([37, 64], 64, padding_value=1e3))
    valid = int(alone.out_mask[0].sum())
    assert valid == 10 and int(padded.out_mask[0].sum()) == valid
    for head in ("category", "intensity", "gender"):
        np.testing.assert_allclose(padded.heads[head][0], alone.heads[head][0], atol=1e-5, err_msg=head)
    np.testing.assert_allclose(padded.heads["phoneme"][0, :valid], alone.heads["phoneme"][0, :valid], atol=1e-5)


def test_train_mode_batch_statistics_ignore_padding():
    """One train-mode forward per bucket: every layer's BatchNorm running moments must agree."""
    model = _model()
    twin = nnx.clone(model)
    train_forward = nnx.jit(lambda model, batch: model(batch))  # writes the updated moments back
    train_forward(model, random_batch([37, 21], 40))
    train_forward(twin, random_batch([37, 21], 64, padding_value=1e3))
    moments, twin_moments = nnx.state(model, nnx.BatchStat), nnx.state(twin, nnx.BatchStat)
    # mean and var, each stacked over the layers: [num_layers, D]
    assert [leaf.shape[0] for leaf in jax.tree.leaves(moments)] == [model.encoder.num_layers] * 2
    initial = nnx.state(_model(), nnx.BatchStat)
    leaves = zip(jax.tree.leaves(moments), jax.tree.leaves(twin_moments), jax.tree.leaves(initial))
    for value, twin_value, start in leaves:
        np.testing.assert_allclose(value, twin_value, rtol=1e-5, atol=1e-6)
        for layer in range(value.shape[0]):
            assert not np.allclose(value[layer], start[layer]), f"layer {layer} moments not updated"


def test_every_parameter_receives_a_gradient():
    model = _model()
    batch = random_batch([40, 29, 12], 40)
    weights = jax.tree.map(
        lambda x: jnp.asarray(np.random.default_rng(0).standard_normal(x.shape), jnp.float32),
        _jitted(model)(batch),
    )

    def surrogate_loss(model: SpeechEQ) -> jax.Array:
        """Random projection of every output, so no parameter can be cancelled out by chance."""
        output = model(batch)
        return sum(jnp.sum(output.heads[h] * weights.heads[h]) for h in HEAD_NAMES)

    grads = nnx.jit(nnx.grad(surrogate_loss))(model)
    flat = nnx.to_flat_state(grads)
    assert len(flat) > 50
    dead = ["/".join(map(str, path)) for path, g in flat if not np.any(np.asarray(g[...]) != 0)]
    assert not dead, f"parameters without gradient: {dead}"


def test_each_bucket_shape_compiles_once():
    model = _model()
    model.eval()
    graphdef, state = nnx.split(model)
    traces = []

    @jax.jit
    def forward(state, batch) -> ModelOutput:
        traces.append(batch["logmel"].shape)
        return nnx.merge(graphdef, state)(batch)

    buckets = [random_batch(lengths, lengths[0], seed=s) for lengths in ([24, 10], [48, 30]) for s in range(3)]
    for batch in buckets * 2:
        jax.block_until_ready(forward(state, batch))
    assert sorted(traces) == [(2, 24, 80), (2, 48, 80)]


# Absolute, on outputs of magnitude <= 3. Measured on this 2-layer model: max error 0.017 (phoneme
# logits), 0.006-0.008 on category/gender logits; bf16 keeps 8 mantissa bits (relative step 2^-8).
BFLOAT16_TOLERANCE = 0.05


def test_bfloat16_matches_float32_within_tolerance():
    reference = _model(dtype="float32")
    low = _model(seed=1, dtype="bfloat16")
    nnx.update(low, nnx.state(reference))
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(nnx.state(low, nnx.Param)))
    reference.eval()
    low.eval()
    batch = random_batch([40, 27], 40)
    expected, actual = _jitted(reference)(batch), _jitted(low)(batch)
    for field in HEAD_NAMES:
        got, want = actual.heads[field], expected.heads[field]
        assert got.dtype == jnp.float32, field
        error = float(jnp.max(jnp.abs(got - want)))
        assert error < BFLOAT16_TOLERANCE, f"{field}: max |bf16 - f32| = {error:.4f}"
        assert error > 0, f"{field}: bfloat16 run is identical to float32, so it did not compute in bf16"


def test_dropout_is_active_in_train_mode_only():
    model = _model(dropout=0.3, attention_dropout=0.3)
    batch = random_batch([40], 40)
    forward = nnx.jit(lambda model, batch: model(batch).heads["category"])  # advances the dropout stream
    assert not np.allclose(forward(model, batch), forward(model, batch))
    model.eval()
    np.testing.assert_array_equal(forward(model, batch), forward(model, batch))
