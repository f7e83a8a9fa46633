"""EmoBox metadata as a corpus: one EmoBox dataset on its official folds, audio from the user's copy.

Layout of one dataset's folder DIR of the EmoBox repository (data/<name>/):
  DIR/label_map.json                         emo code -> label name (or name -> class index)
  DIR/fold_N/<name>_train_fold_N.jsonl       one JSON object a line:
  DIR/fold_N/<name>_test_fold_N.jsonl          {"key", "dataset", "wav", "sample_rate", "length", "emo", "channel"}
`wav` is relative to AUDIO_ROOT, the user's copy of the audio. The corpus root names both, as
"DIR::AUDIO_ROOT" (`root_of`; configs/emobox.py writes it), so each EmoBox dataset and audio copy is
its own prepared dataset.

Labels: `emo` goes through label_map.json to a label name, then through `LABELS` (an explicit table,
lower-cased names and EmoBox's 3-letter codes) into the unified taxonomy; an emo missing from
label_map.json or a name missing from LABELS is excluded as an unknown label code.

Speakers: EmoBox lines carry none. For the datasets we also read natively a documented rule
derives the speaker from key / wav (`SPEAKER_RULES`, the same ids as our own readers: IEMOCAP
'Ses01F_impro01_M003' -> 'Ses01M'); any other line gets a pseudo-speaker
`protocols.UNKNOWN_SPEAKER` + its fold signature + a bucket of its key's CRC32, so validation is
carved by utterance there and the reports say so.

Folds (protocol 'official'): an utterance's `group` is its fold signature, one letter per fold:
'r' in that fold's train file, 't' in its test file, '-' in neither (e.g. 'trrrr' is tested by
fold 1). A storage unit is speaker x signature. Fold k tests the units with 't' at k; its
validation part is about a tenth of its train speakers (`VALID_FRACTION`, at least one, rotating
by fold) that fold k does not test; the rest trains. A fold whose train and test share a known
speaker is marked speaker-DEPENDENT (refused unless data.allow_speaker_dependent).

Excluded and named (as for every corpus): a line that is not a JSON object or lacks key, wav or
emo; a key listed twice in one fold; a key in both the train and the test file of a fold (every
line of that key); an unknown label; missing or undecodable audio (unify's audio check).
"""

from __future__ import annotations

import collections
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import casia, esd, iemocap, manifest, protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_LINE, UNKNOWN_CODE, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, require_root,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import Exclusion, UnusableFileError
from speecheq_jax.utterance import Utterance

LAYOUT = ("DIR::AUDIO_ROOT with DIR/label_map.json and DIR/fold_N/<name>_{train,test}_fold_N.jsonl "
          "(EmoBox's data/<name>/), wav paths relative to AUDIO_ROOT")
SEPARATOR = "::"
REQUIRED = ("key", "wav", "emo")
DUPLICATE_KEY = "duplicate key"
TRAIN_AND_TEST = "key in both train and test of a fold"
VALID_FRACTION = 0.1
UNKNOWN_BUCKETS = 10
"""Pseudo-speakers per fold signature for utterances whose speaker is unknown."""
_FOLD_DIR = re.compile(r"^fold_(\d+)$")
_PARTS = {"train": "r", "test": "t"}
"""EmoBox file part -> its letter in a fold signature ('-': the fold lists the key in neither)."""
_PART_OF_LETTER = {"t": "test", "r": "train", "-": "none"}

LABELS: dict[str, str | None] = {
    "neutral": "neutral", "neu": "neutral",
    "happy": "happy", "hap": "happy", "happiness": "happy", "joy": "happy",
    "angry": "angry", "ang": "angry", "anger": "angry",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "sur": "surprise", "surprised": "surprise",
    "fear": "fear", "fea": "fear", "fearful": "fear",
    "disgust": "disgust", "dis": "disgust", "disgusted": "disgust",
    "calm": None, "excited": None, "exc": None, "frustrated": None, "fru": None, "contempt": None,
    "boredom": None, "bored": None, "other": None, "oth": None,
}
"""EmoBox label name (lower-cased) -> unified category; None: outside the taxonomy (`_OUTSIDE`)."""
_OUTSIDE = {
    "calm": "calm is kept apart from neutral in EmoBox's label set",
    "excited": "excited is its own class in this EmoBox dataset", "exc": "excited is its own class here",
}


def root_of(dataset_dir: str | Path, audio_root: str | Path) -> str:
    """The corpus root naming both folders: 'DIR::AUDIO_ROOT', each made absolute."""
    return f"{Path(dataset_dir).expanduser().resolve()}{SEPARATOR}{Path(audio_root).expanduser().resolve()}"


def _split_root(root: Path) -> tuple[Path, Path]:
    dataset_dir, _, audio_root = str(root).partition(SEPARATOR)
    return require_root(Path(dataset_dir), "emobox", LAYOUT), require_root(Path(audio_root or dataset_dir), "emobox",
                                                                         LAYOUT)


def _iemocap_speaker(key: str, wav: str) -> tuple[str, str | None] | None:
    if not re.match(r"^Ses\d{2}[FM]_\w+_[FM]\d{3}$", key):
        return None
    speaker = iemocap.parse_utterance_id(key, key)[1]
    return speaker, speaker[-1]


def _casia_speaker(key: str, wav: str) -> tuple[str, str | None] | None:
    found = [part for part in Path(wav).parts if part in casia.SPEAKER_GENDERS]
    return (found[0], casia.SPEAKER_GENDERS[found[0]]) if found else None


def _esd_speaker(key: str, wav: str) -> tuple[str, str | None] | None:
    speaker = Path(wav).stem[:4]
    return (speaker, esd.SPEAKER_GENDERS[speaker]) if speaker in esd.SPEAKER_GENDERS else None


def _ravdess_speaker(key: str, wav: str) -> tuple[str, str | None] | None:
    fields = Path(wav).stem.split("-")
    if len(fields) != 7 or not fields[-1].isdigit():
        return None
    return f"Actor_{fields[-1]}", "M" if int(fields[-1]) % 2 else "F"


def _cremad_speaker(key: str, wav: str) -> tuple[str, str | None] | None:
    actor = Path(wav).stem.split("_")[0]
    return (actor, None) if re.fullmatch(r"1\d{3}", actor) else None


SPEAKER_RULES: dict[str, Callable[[str, str], tuple[str, str | None] | None]] = {
    "iemocap": _iemocap_speaker,   # key Ses01F_impro01_M003 -> Ses01M (the utterance suffix's letter)
    "casia": _casia_speaker,       # the wav path's <speaker>/ folder -> that speaker
    "esd": _esd_speaker,           # wav 0011_000001.wav -> 0011
    "ravdess": _ravdess_speaker,   # wav 03-01-05-02-01-01-12.wav -> Actor_12 (odd actors male)
    "cremad": _cremad_speaker,     # wav 1001_DFA_ANG_XX.wav -> 1001 (gender not in EmoBox: masked)
}
"""EmoBox `dataset` name (lower-cased, '-' and '_' removed) -> (key, wav) -> (speaker, gender) or None."""
_LANGS = {"iemocap": "eng", "ravdess": "eng", "cremad": "eng", "casia": "cmn"}
"""Language of the datasets with a speaker rule (ESD: by speaker); 'und' (undetermined) for the others."""


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads every fold's train and test lines of one EmoBox dataset (see the module docstring)."""
    dataset_dir, audio_root = _split_root(root)
    folds = sorted((int(m[1]), p) for p in dataset_dir.iterdir() if (m := _FOLD_DIR.match(p.name)) and p.is_dir())
    if not folds:
        raise CorpusLayoutError(f"{dataset_dir}: no fold_N folders; expected {LAYOUT}")
    label_map = _label_map(dataset_dir / "label_map.json")
    excluded = Exclusions(options.strict)
    first: dict[str, tuple[str, dict]] = {}
    codes: dict[str, list[str]] = collections.defaultdict(lambda: ["-"] * len(folds))
    clashing: dict[str, list[str]] = collections.defaultdict(list)
    for index, (number, folder) in enumerate(folds):
        for part, code in _PARTS.items():
            for source, row in _fold_lines(folder, part, number, excluded):
                key = str(row["key"])
                if codes[key][index] != "-":
                    reason = DUPLICATE_KEY if codes[key][index] == code else TRAIN_AND_TEST
                    if reason == DUPLICATE_KEY:
                        excluded.add(Exclusion(source, DUPLICATE_KEY, f"{key} is listed twice in fold {number}"))
                        continue
                    clashing[key].append(source)
                codes[key][index] = code
                first.setdefault(key, (source, row))
    for key, sources in sorted(clashing.items()):
        excluded.add(Exclusion(first[key][0], TRAIN_AND_TEST, f"{key} is also in {', '.join(sources)}"))
    raws = [excluded.attempt(_record, key, "".join(codes[key]), *first[key], label_map, audio_root)
            for key in sorted(first) if key not in clashing]
    return unify(SPEC, root, [raw for raw in raws if raw is not None], options, excluded)


def _label_map(path: Path) -> dict[str, str]:
    """emo code -> label name from label_map.json (a name -> index map is read as name -> name)."""
    if not path.is_file():
        raise CorpusLayoutError(f"missing {path}; expected {LAYOUT}")
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CorpusLayoutError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(mapping, dict):
        raise CorpusLayoutError(f"{path}: expected a JSON object of emo code -> label name")
    return {str(code): str(name) if isinstance(name, str) else str(code) for code, name in mapping.items()}


def _fold_lines(folder: Path, part: str, number: int, excluded: Exclusions) -> list[tuple[str, dict]]:
    """(source, row) of the fold's `part` file; a line without its required values is excluded."""
    files = sorted(folder.glob(f"*_{part}_fold_{number}.jsonl"))
    if len(files) != 1:
        raise CorpusLayoutError(f"{folder}: expected one <name>_{part}_fold_{number}.jsonl, found "
                                f"{[f.name for f in files] or 'none'}; layout {LAYOUT}")
    rows = []
    for n, line in enumerate(files[0].read_text(encoding="utf-8").splitlines(), 1):
        source = f"{files[0]}:{n}"
        row = excluded.attempt(manifest.json_object, line, source) if line.strip() else None
        missing = [name for name in REQUIRED if row is not None and row.get(name) in (None, "")]
        if missing:
            excluded.add(Exclusion(source, BAD_LINE, f"missing value(s) for {missing}"))
        elif row is not None:
            rows.append((source, row))
    return rows


def _record(key: str, signature: str, source: str, row: dict, label_map: dict[str, str],
            audio_root: Path) -> RawUtterance:
    emo = str(row["emo"])
    if emo not in label_map:
        raise UnusableFileError(source, UNKNOWN_CODE, f"emo {emo!r} is not in label_map.json ({sorted(label_map)})")
    wav = str(row["wav"])
    dataset = re.sub(r"[-_]", "", str(row.get("dataset", "")).lower())
    rule = SPEAKER_RULES.get(dataset)
    found = rule(key, wav) if rule else None
    speaker, gender = found or (f"{protocols.UNKNOWN_SPEAKER}{signature}_{zlib.crc32(key.encode()) % UNKNOWN_BUCKETS}",
                                None)
    lang = esd.language_of(speaker) if dataset == "esd" and found else _LANGS.get(dataset, "und")
    return RawUtterance(id=key, audio_path=audio_root / wav, speaker=speaker, gender=gender, lang=lang, text=None,
                        native_label=emo, group=signature, source=source, category_code=label_map[emo].lower())


def _official(data: CorpusData) -> list[protocols.Fold]:
    """EmoBox's folds: fold k tests the units whose signature has 't' at k (see the module docstring)."""
    count = len(data.utterances[0].group) if data.utterances else 0
    folds = []
    for k in range(count):
        test = {u.speaker for u in data.utterances if u.group[k] == "t"}
        train = sorted({u.speaker for u in data.utterances if u.group[k] == "r"} - test)
        if not train:
            raise ValueError(f"emobox fold {k + 1}: no train speaker outside the test part to validate on")
        n_valid = max(1, round(VALID_FRACTION * len(train)))
        valid = {train[(k * n_valid + i) % len(train)] for i in range(n_valid)}
        shared = any(u.group[k] == "r" and u.speaker in test for u in data.utterances)

        def part_of(utt: Utterance, k: int = k, valid: set[str] = valid) -> str:
            return "valid" if utt.group[k] == "r" and utt.speaker in valid else _PART_OF_LETTER[utt.group[k]]

        folds.append(protocols.fold_by_part(f"fold{k + 1}", data, part_of, speaker_dependent=shared))
    return folds


OFFICIAL = protocols.Protocol(
    "official", _official,
    validation=(f"about {VALID_FRACTION:.0%} of each fold's train speakers (at least one, rotating by fold), "
                "speaker-disjoint from train and test"))

SPEC = CorpusSpec(
    name="emobox", title="EmoBox", read=read, layout=LAYOUT, protocols=(OFFICIAL,), units_by_group=True,
    labels=labels.CorpusLabels(categories=LABELS, outside_reasons=_OUTSIDE),
)
