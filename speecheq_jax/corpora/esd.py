"""ESD reader: <spk>/<Emotion>/[train|evaluation|test/]<spk>_<nnnnnn>.wav, <spk>/<spk>.txt.

Twenty speakers, 0001-0010 Mandarin and 0011-0020 English; transcripts are
'<spk>_<nnnnnn><TAB>text<TAB>emotion' lines (the emotion column is Chinese for
the Mandarin speakers; the folder name is the native label). Some releases
split each emotion folder into train/evaluation/test: that part becomes the
utterance's `group`, which the speaker-DEPENDENT 'official' protocol uses.

Genders: the files carry none. Public descriptions agree on 18 speakers and
disagree on 0012 and 0019, so those two are None (masked, never guessed).

Protocols: speaker_independent (strata language x gender, so each fold mixes
both languages, gender-balanced) and 'official', the release's
train/evaluation/test subfolders: SPEAKER-DEPENDENT, so a unit is speaker x part.
"""

from __future__ import annotations

import re
from pathlib import Path

from speecheq_jax import labels
from speecheq_jax.corpora import protocols
from speecheq_jax.corpora.corpus_data import (
    BAD_LINE, NO_LINE, CorpusData, CorpusLayoutError, Exclusions, RawUtterance, ReadOptions, no_utterances_error,
    read_text_lines, require_root, wav_files,
)
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.corpora.unify import unify
from speecheq_jax.errors import Exclusion

SPEAKER_GENDERS: dict[str, str | None] = {
    "0001": "F", "0002": "F", "0003": "F", "0004": "M", "0005": "M",
    "0006": "M", "0007": "F", "0008": "M", "0009": "F", "0010": "M",
    "0011": "M", "0012": None, "0013": "M", "0014": "M", "0015": "F",
    "0016": "F", "0017": "F", "0018": "F", "0019": None, "0020": "M",
}
OFFICIAL_PARTS: tuple[str, ...] = ("train", "evaluation", "test")
_OFFICIAL_PART = dict(zip(OFFICIAL_PARTS, protocols.PARTS))
LAYOUT = "<spk>/<Emotion>/[train|evaluation|test/]<spk>_<nnnnnn>.wav and <spk>/<spk>.txt, spk 0001..0020"
_SPEAKER_DIR = re.compile(r"^\d{4}$")


def language_of(speaker: str) -> str:
    """'cmn' for speakers 0001-0010, 'eng' for 0011-0020."""
    return "cmn" if int(speaker) <= 10 else "eng"


def read(root: Path, options: ReadOptions) -> CorpusData:
    """Reads every speaker folder under `root` with its transcript file."""
    root = require_root(root, "esd", LAYOUT)
    speaker_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _SPEAKER_DIR.match(p.name))
    unknown = [p.name for p in speaker_dirs if p.name not in SPEAKER_GENDERS]
    if unknown:
        raise CorpusLayoutError(f"{root}: unknown ESD speaker folder(s) {unknown}; expected {LAYOUT}")
    excluded = Exclusions(options.strict)
    raws = [raw for speaker_dir in speaker_dirs for raw in _read_speaker(speaker_dir, excluded)]
    if not raws and not excluded.counts:
        raise no_utterances_error(root, "esd", LAYOUT)
    return unify(SPEC, root, raws, options, excluded)


def _read_speaker(speaker_dir: Path, excluded: Exclusions) -> list[RawUtterance]:
    """Records of one speaker: every emotion folder, flat or split into official parts.

    A WAV without a transcript line is excluded (NO_LINE), named.
    """
    speaker = speaker_dir.name
    transcript_file = speaker_dir / f"{speaker}.txt"
    transcripts = parse_transcripts(transcript_file, excluded)
    raws = []
    for emotion_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for part, wav in _emotion_wavs(emotion_dir, excluded):
            if wav.stem not in transcripts:
                excluded.add(Exclusion(str(wav), NO_LINE, f"{wav.stem} has no line in {transcript_file}"))
                continue
            raws.append(RawUtterance(
                id=wav.stem, audio_path=wav, speaker=speaker, gender=SPEAKER_GENDERS[speaker],
                lang=language_of(speaker), text=transcripts[wav.stem], native_label=emotion_dir.name,
                group=part, source=str(wav),
            ))
    return raws


def _emotion_wavs(emotion_dir: Path, excluded: Exclusions) -> list[tuple[str, Path]]:
    """(official part or '', wav) of one emotion folder; unknown subfolders are an error."""
    found = [("", wav) for wav in wav_files(emotion_dir, excluded)]
    for sub in sorted(p for p in emotion_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name not in OFFICIAL_PARTS:
            raise CorpusLayoutError(f"{sub}: unexpected ESD folder; expected one of {OFFICIAL_PARTS} or none")
        found.extend((sub.name, wav) for wav in wav_files(sub, excluded))
    return found


def parse_transcripts(path: Path, excluded: Exclusions) -> dict[str, str]:
    """Utterance id -> text from '<id><TAB>text<TAB>emotion' lines; a line that does not parse is excluded."""
    if not path.is_file():
        raise CorpusLayoutError(f"missing ESD transcript file {path}; expected {LAYOUT}")
    out = {}
    for line_no, line in enumerate(read_text_lines(path), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 2 or not re.fullmatch(rf"{path.stem}_\d{{6}}", fields[0].strip()):
            excluded.add(Exclusion(f"{path}:{line_no}", BAD_LINE,
                                   f"{line.strip()!r}; expected '{path.stem}_000001<TAB>text<TAB>emotion'"))
            continue
        out[fields[0].strip()] = fields[1].strip()
    return out


def _has_official_parts(data: CorpusData) -> bool:
    return all(utt.group in _OFFICIAL_PART for utt in data.utterances)


def _official(data: CorpusData) -> list[protocols.Fold]:
    """The release's train/evaluation/test subfolders: speaker-DEPENDENT (every speaker in every part)."""
    if not _has_official_parts(data):
        missing = sum(utt.group not in _OFFICIAL_PART for utt in data.utterances)
        raise ValueError(f"{data.root}: {missing} utterances are not in train/evaluation/test subfolders; "
                         "this ESD copy has no official split: use protocol 'speaker_independent'")
    return [protocols.fold_by_part("official", data, lambda utt: _OFFICIAL_PART[utt.group], speaker_dependent=True)]


OFFICIAL = protocols.Protocol("official", _official, _has_official_parts,
                              validation="the release's 'evaluation' subfolders: SPEAKER-DEPENDENT (the same speakers)")

SPEC = CorpusSpec(
    name="esd", title="ESD", read=read, layout=LAYOUT, protocols=(protocols.SPEAKER_INDEPENDENT, OFFICIAL),
    units_by_group=True,
    labels=labels.CorpusLabels(categories={
        "Neutral": "neutral", "Happy": "happy", "Angry": "angry", "Sad": "sad", "Surprise": "surprise",
    }),
)
