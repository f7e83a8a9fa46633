"""CASIA (public 1,200-utterance subset), leave-one-speaker-out: speaker-INDEPENDENT.

  python -m speecheq_jax.main --config configs/casia.py:fold=liuchanhg,root=/data/CASIA --workdir runs/casia
"""

from speecheq_jax.config import single_corpus_config


def get_config(arg: str | None = None):
    return single_corpus_config("casia", arg, default_fold="liuchanhg", heads=("category", "gender"), steps=5000)
