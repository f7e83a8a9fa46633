"""CREMA-D (6 emotions), intensity LO/MD/HI (XX masked), gender-balanced folds.

  python -m speecheq_jax.main --config configs/cremad.py:fold=fold1,root=/data/CREMA-D --workdir runs/cremad
"""

from speecheq_jax.config import single_corpus_config


def get_config(arg: str | None = None):
    return single_corpus_config(
        "cremad", arg, default_fold="fold1", heads=("category", "intensity", "phoneme", "gender"))
