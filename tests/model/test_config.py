"""Model config presets and validation messages."""

import pytest
from flax import nnx

from speecheq_jax.model.model_config import default_model_config
from speecheq_jax.model.speecheq import SpeechEQ

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "size, layers, d_model, heads",
    [("tiny", 4, 96, 4), ("S", 16, 144, 4), ("M", 16, 256, 4), ("L", 17, 512, 8)],  # S/M/L: Gulati et al.
)
def test_presets_follow_the_size_table(size, layers, d_model, heads):
    config = default_model_config(size)
    assert (config.num_layers, config.d_model, config.num_heads) == (layers, d_model, heads)
    assert config.conv_kernel == 31 and "num_categories" not in config  # the data sets it


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("heads", ("category", "valence"), "model.heads"),
        ("heads", (), "model.heads"),
        ("dtype", "float16", "model.dtype"),
        ("norm", "group", "model.norm"),
        ("num_heads", 5, "model.num_heads"),
        ("conv_kernel", 32, "model.conv_kernel"),
        ("dropout", 1.0, "model.dropout"),
    ],
)
def test_bad_config_names_the_key(key, value, message):
    config = default_model_config("tiny")
    config[key] = value
    with pytest.raises(ValueError, match=message):
        SpeechEQ(config, num_phonemes=5, num_categories=4, rngs=nnx.Rngs(0))


def test_odd_model_width_is_rejected():
    config = default_model_config("tiny")
    config.d_model, config.num_heads = 99, 3
    with pytest.raises(ValueError, match="model.d_model = 99 must be even"):
        SpeechEQ(config, num_phonemes=5, num_categories=4, rngs=nnx.Rngs(0))


def test_unknown_size_is_rejected():
    with pytest.raises(ValueError, match="unknown model size 'XL'"):
        default_model_config("XL")
