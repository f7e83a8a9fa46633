"""Model configuration: size presets and the ConfigDict the rest of the project passes around.

The sizes follow the Conformer paper (Gulati et al. 2020, table 1) for S, M and L;
`tiny` is small enough to train on a CPU in minutes and to keep tests fast. Everything that changes
the model's shape or numerics lives in this one ConfigDict, so an experiment config overrides
fields (`config.model.num_layers = 2`) instead of subclassing modules.
"""

from __future__ import annotations

import ml_collections

from speecheq_jax.heads import HEAD_MODULES, HEAD_NAMES

NORMS: tuple[str, ...] = ("batch", "layer")
REMATS: tuple[str, ...] = ("none", "dots", "full")
DTYPES: tuple[str, ...] = ("float32", "bfloat16")

# size -> (num_layers, d_model, num_heads)
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (4, 96, 4),
    "S": (16, 144, 4),
    "M": (16, 256, 4),
    "L": (17, 512, 8),
}


def default_model_config(size: str = "tiny") -> ml_collections.ConfigDict:
    """The model ConfigDict for one size preset, with every head enabled.

    `shared_pooling` defaults to False: emotion evidence sits in a few salient frames while
    gender and intensity evidence is spread over the utterance, so each utterance head gets its
    own attention weights; the extra cost is one pooling per head (under 1% of the S model).
    """
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; expected one of {sorted(SIZES)}")
    num_layers, d_model, num_heads = SIZES[size]
    return ml_collections.ConfigDict(
        {
            "size": size,
            "d_model": d_model,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "ff_mult": 4,
            "conv_kernel": 31,
            "dropout": 0.1,
            "attention_dropout": 0.1,
            "norm": "batch",
            "dtype": "float32",
            "heads": HEAD_NAMES,
            "shared_pooling": False,
            "pooling_attention_dim": 128,
            # What the backward pass recomputes in each scanned block: "dots" (keep the outputs of
            # matmuls with weights, recompute the cheap rest), "none" (store every activation) or
            # "full". "dots" is the fastest on a CPU: a scan copies every stored activation into
            # its per-layer stack, which costs more than recomputing the element-wise ops (the
            # main job in docs/benchmarks.md, back to back: 3 min 55 s against 4 min 12 s with "none").
            "remat": "dots",
            # Blocks per iteration of the layer scan: 1 compiles one block whatever the depth;
            # num_layers unrolls them all (XLA then sees, and counts the FLOPs of, every layer).
            "scan_unroll": 1,
        }
    )


def validate_model_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the offending `model.<key>` when the config cannot build a model."""
    choices = {"norm": NORMS, "dtype": DTYPES, "remat": REMATS}
    for key, allowed in choices.items():
        if config[key] not in allowed:
            raise ValueError(f"model.{key} = {config[key]!r}; expected one of {list(allowed)}")
    unknown = [h for h in config.heads if h not in HEAD_MODULES]
    if unknown or not config.heads:
        raise ValueError(f"model.heads = {tuple(config.heads)!r}; expected a non-empty subset of {tuple(HEAD_MODULES)}")
    if config.d_model % config.num_heads:
        raise ValueError(f"model.d_model = {config.d_model} is not divisible by model.num_heads = {config.num_heads}")
    if config.d_model % 2:
        raise ValueError(f"model.d_model = {config.d_model} must be even: the position sinusoids come in sin/cos pairs")
    if config.conv_kernel % 2 == 0:
        raise ValueError(f"model.conv_kernel = {config.conv_kernel} must be odd so the convolution is centred")
    for key in ("dropout", "attention_dropout"):
        if not 0.0 <= config[key] < 1.0:
            raise ValueError(f"model.{key} = {config[key]} must lie in [0, 1)")
