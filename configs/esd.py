"""ESD (Mandarin + English, 5 emotions), speaker-independent folds.

  python -m speecheq_jax.main --config configs/esd.py:fold=fold1,root=/data/ESD --workdir runs/esd
"""

from speecheq_jax.config import single_corpus_config


def get_config(arg: str | None = None):
    return single_corpus_config("esd", arg, default_fold="fold1", heads=("category", "phoneme", "gender"))
