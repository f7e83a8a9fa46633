"""RAVDESS speech (8 emotions; calm -> neutral), intensity normal/strong, gender-balanced folds.

  python -m speecheq_jax.main --config configs/ravdess.py:fold=fold1,root=/data/RAVDESS --workdir runs/ravdess
"""

from speecheq_jax.config import single_corpus_config


def get_config(arg: str | None = None):
    return single_corpus_config(
        "ravdess", arg, default_fold="fold1", heads=("category", "intensity", "phoneme", "gender"),
        label_options={"ravdess_calm": "neutral"}, steps=8000)
