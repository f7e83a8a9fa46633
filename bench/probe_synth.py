"""Is SEQD-synth learnable but not trivial? A linear probe on unseen speakers.

Generates (or reuses) a corpus, pools each utterance's log-mel (80 bins, the
project's definition, via librosa) into per-bin mean and std over time
([160] per utterance), fits a logistic regression on the TRAIN speakers and
reports accuracy on the TEST speakers for emotion (6 classes), gender (2) and
intensity (levels 1..3 of the emotional utterances). Near-chance emotion means
the prosody mapping is too weak; near-perfect means it is trivially separable.

Usage: python bench/probe_synth.py [--out DIR] [--num 900] [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from speecheq_jax.synth.generate import generate
from speecheq_jax.utterance import Utterance, read_jsonl


def pooled_log_mel(path: Path) -> np.ndarray:
    """[160]: per-bin mean and std over time of the log-mel [T, 80]."""
    audio, sample_rate = soundfile.read(path, dtype="float32")
    mel = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_fft=512, win_length=400, hop_length=160,
                                         n_mels=80, power=2.0, center=True, pad_mode="constant")
    log_mel = np.log(mel + 1e-6)
    return np.concatenate([log_mel.mean(axis=1), log_mel.std(axis=1)])


def probe_accuracy(features: np.ndarray, targets: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Test accuracy of a standardised logistic regression fit on the train rows."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=0.1))
    model.fit(features[train], targets[train])
    return float(np.mean(model.predict(features[test]) == targets[test]))


def run_probe(utterances: list[Utterance], corpus_dir: Path) -> dict[str, tuple[float, float, int]]:
    """Task -> (test accuracy, chance = majority-class rate on test, test size)."""
    features = np.stack([pooled_log_mel(corpus_dir / u.audio_path) for u in tqdm(utterances, desc="log-mel")])
    split = np.array([u.group for u in utterances])
    emotional = np.array([u.category != "neutral" for u in utterances])
    tasks = {
        "emotion": (np.array([u.category for u in utterances]), np.ones(len(utterances), bool)),
        "gender": (np.array([u.gender for u in utterances]), np.ones(len(utterances), bool)),
        "intensity (emotional, 1..3)": (np.array([u.native_label[-1] for u in utterances]), emotional),
    }
    results = {}
    for task, (targets, rows) in tasks.items():
        train, test = rows & (split == "train"), rows & (split == "test")
        _, counts = np.unique(targets[test], return_counts=True)
        results[task] = (probe_accuracy(features, targets, train, test), counts.max() / counts.sum(), int(test.sum()))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="corpus directory (default: a temporary one)")
    parser.add_argument("--num", type=int, default=900)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus_dir = Path(args.out or tmp)
        manifest = generate(corpus_dir, args.num, args.seed)
        utterances = list(read_jsonl(manifest))
        for task, (accuracy, chance, size) in run_probe(utterances, corpus_dir).items():
            print(f"{task:28s} test-speaker accuracy {accuracy:.3f}  (majority {chance:.3f}, n={size})")


if __name__ == "__main__":
    main()
