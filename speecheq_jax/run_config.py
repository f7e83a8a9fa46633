"""Shared pieces of the experiment configs in configs/.

Every file in configs/ has `get_config(arg)` (big_vision style: one
experiment per file, variants chosen on the command line, e.g.
`--config configs/iemocap.py:fold=session3,size=S`). They all start from
`base_config(size)`, which assembles the defaults of each part from the module
that owns it (data pipeline, model), plus the training defaults here.
"""

from __future__ import annotations

from collections.abc import Mapping

import ml_collections
from ml_collections import config_dict

from speecheq_jax.errors import ConfigError as ConfigError  # here since the first runs; errors.py holds it
from speecheq_jax.input.data_config import default_data_config
from speecheq_jax.model.model_config import HEAD_NAMES, default_model_config


def parse_arg(arg: str | None, **defaults: str) -> ml_collections.ConfigDict:
    """'size=S,fold=session3' (or a bare 'S' for the first key) -> ConfigDict over `defaults`.

    Unknown keys are an error naming them and the known ones.
    """
    out = dict(defaults)
    for i, item in enumerate(filter(None, (arg or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            key, value = next(iter(defaults)), item
            if i:
                raise ValueError(f"config arg {arg!r}: only the first item may omit its key")
        if key not in defaults:
            raise ValueError(f"config arg {key!r} is unknown; known: {sorted(defaults)}")
        out[key] = value
    return ml_collections.ConfigDict(out)


def base_config(size: str = "tiny") -> ml_collections.ConfigDict:
    """Defaults of every part of a run; experiment configs override fields."""
    config = ml_collections.ConfigDict()
    config.name = "speecheq"
    config.seed = 0
    config.data = default_data_config()
    config.model = default_model_config(size)
    config.tasks = ml_collections.ConfigDict({
        # Static per-task loss weights (and prior weights under uncertainty weighting); None: the
        # head's own default (`HeadSpec.default_weight`: category, intensity 1.0; phoneme, gender 0.3).
        "weights": {name: config_dict.placeholder(float) for name in HEAD_NAMES},
        "weighting": "static",  # or "uncertainty" (learned, Kendall et al. 2018)
        "label_smoothing": 0.0,
        "intensity_loss": "mse",  # or "ccc"
    })
    config.optim = ml_collections.ConfigDict({
        "lr": 1e-3, "warmup_steps": 500, "final_lr_ratio": 0.01, "weight_decay": 1e-2,
        "b1": 0.9, "b2": 0.98, "eps": 1e-8, "clip_norm": 5.0, "accumulate": 1,
    })
    config.train = ml_collections.ConfigDict({
        "num_steps": 20_000, "log_every": 50, "eval_every": 1000,
        # A checkpoint without validation metrics (for resume only) between validations.
        "checkpoint_every": 500,
        "keep_latest": 2, "keep_best": 1,
        # Model selection: validation only. Keys are flattened metrics (jobs.evaluate_checkpoint.flatten), e.g.
        # "valid/overall/eq", "valid/overall/phoneme/per"; the direction follows from the name
        # (train.checkpoint.metric_mode). "auto": UA with a category head, else a head's loss.
        "best_metric": "auto",
    })
    config.mesh = ml_collections.ConfigDict({
        "shape": (-1,), "axes": ("data",),
        # Leaves with at least this many elements are FSDP-sharded over `data`; None = replicate all.
        "fsdp_min_size": config_dict.placeholder(int),
    })
    return config


def use_ssl_features(config: ml_collections.ConfigDict, checkpoint: str, **ssl: object) -> None:
    """Switches `config.data` to the SSL route on `checkpoint` (more `config.data.ssl` fields in `ssl`), its
    buckets halved: the states come 50 a second, the log-mel frames 100 (docs/SSL.md)."""
    config.data.features = "ssl"
    config.data.ssl.update({"checkpoint": checkpoint, **ssl})
    config.data.buckets = tuple(bucket // 2 for bucket in config.data.buckets)


def single_corpus_config(corpus: str, arg: str | None, *, default_fold: str, heads: Mapping[str, str],
                         not_trained: Mapping[str, str], label_options: dict | None = None, steps: int = 20_000):
    """Config for `corpus` (root given on the command line) at fold `arg.fold`.

    Args:
      heads: the heads the run trains -> the labels the corpus's reader yields
        for it (a head without labels would only train on nothing).
      not_trained: built-in heads the corpus cannot train -> why, so each config says what it
        trains and why not. `arg.ssl=/path/to/checkpoint` trains on that encoder's hidden states
        (`use_ssl_features`) instead of log-mels. A registered head named in neither is not trained (so adding a head
        changes no config); a head named twice or not registered is an error.
    """
    named = [*heads, *not_trained]
    wrong = sorted({h for h in named if h not in HEAD_NAMES or named.count(h) > 1})
    if wrong:
        raise ValueError(f"{corpus} config: heads {sorted(heads)} and not_trained {sorted(not_trained)} name "
                         f"{wrong} twice or unregistered; registered heads: {HEAD_NAMES}")
    arg = parse_arg(arg, fold=default_fold, size="S", root="", ssl="")
    config = base_config(arg.size)
    config.name = f"{corpus}-{arg.fold}-{arg.size}"
    config.data.corpora = [{"name": corpus, "root": arg.root or None, "fold": arg.fold,
                            "protocol": None, "weight": 1.0, "label_options": label_options or {}}]
    config.model.heads = tuple(h for h in HEAD_NAMES if h in heads)
    if arg.ssl:
        use_ssl_features(config, arg.ssl)
    config.train.num_steps = steps
    return config
