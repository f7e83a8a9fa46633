"""IEMOCAP-4 (neutral, happy+excited, angry, sad), leave-one-session-out.

  python -m speecheq_jax.main --config configs/iemocap.py:fold=session1,root=/data/IEMOCAP_full_release \
      --workdir runs/iemocap-s1
Folds session1..session5; validation is a speaker of another session (speaker-disjoint).
"""

from speecheq_jax.config import single_corpus_config


def get_config(arg: str | None = None):
    return single_corpus_config(
        "iemocap", arg, default_fold="session1", heads=("category", "phoneme", "gender"),
        label_options={"label_set": ("neutral", "happy", "angry", "sad"), "iemocap_exc": "merge"})
