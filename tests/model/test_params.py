"""Parameter counts against a closed-form count of the architecture."""

import pytest
from flax import nnx

from speecheq_jax.model.params import count_params, parameter_table, params_by_component
from speecheq_jax.model.speecheq import SpeechEQ
from tests.model.synthetic import NUM_CATEGORIES, NUM_PHONEMES, small_config

pytestmark = pytest.mark.unit


def _linear(fan_in: int, fan_out: int, bias: bool = True) -> int:
    return fan_in * fan_out + (fan_out if bias else 0)


def _expected_count(config, num_phonemes: int) -> int:
    """Closed-form parameter count of the encoder and heads for the given config."""
    d, hidden, kernel = config.d_model, config.ff_mult * config.d_model, config.conv_kernel
    layer_norm = 2 * d
    frontend = (9 * d + d) + (9 * d * d + d) + _linear(20 * d, d)  # 80 mel bins -> 40 -> 20
    feed_forward = layer_norm + _linear(d, hidden) + _linear(hidden, d)
    attention = layer_norm + 3 * _linear(d, d) + 2 * _linear(d, d, bias=False) + 2 * d  # q v out, k pos, u v
    convolution = layer_norm + _linear(d, 2 * d) + (kernel * d + d) + 2 * d + _linear(d, d)
    block = 2 * feed_forward + attention + convolution + layer_norm
    pooling = _linear(d, config.pooling_attention_dim) + config.pooling_attention_dim
    outputs = {"category": NUM_CATEGORIES, "intensity": 1, "gender": 2}
    utterance_heads = [h for h in config.heads if h in outputs]
    heads = sum(_linear(2 * d, d) + _linear(d, outputs[h]) for h in utterance_heads)
    poolings = (1 if config.shared_pooling else len(utterance_heads)) * pooling
    phoneme = _linear(d, num_phonemes + 1) if "phoneme" in config.heads else 0
    return frontend + config.num_layers * block + heads + poolings + phoneme


@pytest.mark.parametrize(
    "overrides",
    [{}, {"shared_pooling": True}, {"heads": ("phoneme",)}, {"heads": ("category", "gender"), "num_layers": 3}],
)
def test_count_matches_closed_form(overrides):
    config = small_config(**overrides)
    model = nnx.eval_shape(
        lambda: SpeechEQ(config, num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES, rngs=nnx.Rngs(0)))
    assert count_params(model) == _expected_count(config, NUM_PHONEMES)


def test_table_rows_sum_to_the_total():
    model = nnx.eval_shape(lambda: SpeechEQ(small_config(), num_phonemes=NUM_PHONEMES, num_categories=NUM_CATEGORIES,
                                             rngs=nnx.Rngs(0)))
    components = params_by_component(model)
    assert sum(components.values()) == count_params(model)
    assert "encoder/blocks/attention" in components and "poolings/gender" in components
    table = parameter_table(model)
    assert table.splitlines()[-1].split()[:2] == ["total", f"{count_params(model):,}"]
