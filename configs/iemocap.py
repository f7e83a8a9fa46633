"""IEMOCAP-4 (neutral, happy+excited, angry, sad), leave-one-session-out, all four heads.

  python -m speecheq_jax.main --config configs/iemocap.py:fold=session1,root=/data/IEMOCAP_full_release \
      --workdir runs/iemocap-s1
Folds session1..session5; validation is a speaker of another session (speaker-disjoint).
All five folds and their combined report (mean ± std, pooled metrics; docs/protocols.md):
  python -m speecheq_jax.main --config configs/iemocap.py:root=/data/IEMOCAP_full_release \
      --workdir runs/iemocap-cv --mode crossval
On an SSL encoder's hidden states instead of log-mels (docs/SSL.md, "Training on SSL features"):
  python -m speecheq_jax.main --config configs/iemocap.py:fold=session1,root=R,ssl=/path/to/wavlm-base-plus \
      --workdir runs/iemocap-ssl-s1

All four heads (category, intensity, phoneme, gender): consensus category,
transcripts for phonemes, gender from the speaker id. The intensity target is
the utterance's consensus AROUSAL
(1..5 -> (a - 1) / 4, label option `iemocap_arousal`): a dimensional value,
not a categorical level, so it is scored by MAE / CCC and never enters EQ@k
(IEMOCAP is scored at k = 1). Utterances outside the 4 classes (frustrated,
other, no agreement) are dropped.
"""

from speecheq_jax.run_config import single_corpus_config

HEADS = {
    "category": "consensus labels, IEMOCAP-4 (excited merged into happy)",
    "intensity": "consensus arousal on 1..5 -> [0, 1] (dimensional)",
    "phoneme": "g2p of the transcriptions (non-speech tags removed)",
    "gender": "the speaker id's last letter",
}
NOT_TRAINED: dict[str, str] = {}


def get_config(arg: str | None = None):
    return single_corpus_config(
        "iemocap", arg, default_fold="session1", heads=HEADS, not_trained=NOT_TRAINED,
        label_options={"label_set": ("neutral", "happy", "angry", "sad"), "iemocap_exc": "merge",
                       "iemocap_arousal": True})
