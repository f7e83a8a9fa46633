"""One EmoBox dataset on its official folds: EmoBox's metadata (folds, labels) over the user's audio.

  python -m speecheq_jax.main --config configs/emobox.py:dataset=EmoBox/data/iemocap,root=/data/audio \
      --workdir runs/emobox-iemocap --mode crossval

`dataset` is one dataset's folder of the EmoBox repository (fold_N/<name>_{train,test}_fold_N.jsonl,
label_map.json); `root` is where its `wav` paths are relative to. `--mode crossval` trains and tests
every official fold and writes EmoBox's leaderboard columns (WA, UA, macro-F1 per fold and mean)
into <workdir>/crossval.md. How speakers, labels and validation are derived: speecheq_jax/corpora/emobox.py
and docs/protocols.md.

Heads: category only, EmoBox's task. No intensity head: EmoBox lines carry no intensity. No
phoneme head: no transcripts. No gender head: EmoBox lines carry no gender; it is derived from
the speaker for a few datasets only (iemocap, casia, esd, ravdess), masked for all others.
"""

from pathlib import Path

from speecheq_jax.run_config import base_config, parse_arg

HEADS = {"category": "EmoBox's emo label through label_map.json and corpora.emobox.LABELS"}
NOT_TRAINED = {
    "intensity": "EmoBox lines carry no intensity",
    "phoneme": "EmoBox lines carry no transcript",
    "gender": "EmoBox lines carry no gender (derived for 4 datasets only)",
}


def get_config(arg: str | None = None):
    arg = parse_arg(arg, dataset="", root="", size="S", steps="20000")
    if bool(arg.dataset) != bool(arg.root):
        raise ValueError("configs/emobox.py needs both dataset=DIR (EmoBox's data/<name>/) and root=AUDIO_ROOT")
    config = base_config(arg.size)
    config.name = f"emobox-{arg.dataset.rstrip('/').rsplit('/', 1)[-1] or 'dataset'}-{arg.size}"
    # The corpus root names both folders, 'DIR::AUDIO_ROOT' (corpora/emobox.py, `root_of`; a config imports no reader).
    root = f"{Path(arg.dataset).expanduser().resolve()}::{Path(arg.root).expanduser().resolve()}" if arg.dataset else None
    config.data.corpora = [{"name": "emobox", "root": root, "fold": None, "protocol": "official", "weight": 1.0}]
    config.model.heads = tuple(HEADS)
    config.train.num_steps = int(arg.steps)
    return config
