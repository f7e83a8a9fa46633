"""CASIA reader (the public 1,200-utterance subset): <speaker>/<emotion>/<n>.wav.

Four Mandarin speakers, six emotion folders, no transcripts in this subset.
Genders are the corpus documentation's; the emotion folder name is the native
label (SPEC.labels maps it).
"""

from __future__ import annotations

from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import protocols
from speecheq_jax.corpora.corpus_data import (
    CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, no_utterances_error, require_root, wav_files,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify

SPEAKER_GENDERS: dict[str, str] = {"liuchanhg": "F", "wangzhe": "M", "zhaoquanyin": "F", "zhaozuoxiang": "M"}
LAYOUT = f"<speaker>/<emotion>/<n>.wav with speakers {sorted(SPEAKER_GENDERS)}"


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads every <speaker>/<emotion>/*.wav under `root`."""
    root = require_root(root, "casia", LAYOUT)
    speaker_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in speaker_dirs if p.name not in SPEAKER_GENDERS]
    if unknown:
        raise CorpusLayoutError(f"{root}: unknown CASIA speaker folder(s) {unknown}; expected {LAYOUT}")
    excluded = Exclusions(options.strict)
    raws = [
        RawUtterance(
            id=f"{speaker_dir.name}_{emotion_dir.name}_{wav.stem}", audio_path=wav,
            speaker=speaker_dir.name, gender=SPEAKER_GENDERS[speaker_dir.name], lang="cmn", text=None,
            native_label=emotion_dir.name, group=speaker_dir.name, source=str(wav),
        )
        for speaker_dir in speaker_dirs
        for emotion_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
        for wav in wav_files(emotion_dir, excluded)
    ]
    if not raws and not excluded.counts:
        raise no_utterances_error(root, "casia", LAYOUT)
    return unify(SPEC, root, raws, options, excluded)


SPEC = CorpusSpec(
    name="casia", title="CASIA", read=read, layout=LAYOUT, protocols=(protocols.LEAVE_ONE_SPEAKER_OUT,),
    labels=labels.CorpusLabels(categories={
        "neutral": "neutral", "happy": "happy", "angry": "angry", "sad": "sad", "surprise": "surprise", "fear": "fear",
    }),
)
