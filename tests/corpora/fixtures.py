"""Tiny corpus trees in each real layout, with generated audio, for the reader tests.

Each builder writes the real file-name and label-file formats (IEMOCAP
EmoEvaluation blocks with their per-annotator lines, ESD transcript files,
CREMA-D VideoDemographics.csv...) and returns the root. The tests state what
they expect from these trees literally, so a reader bug cannot hide behind a
shared computation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from speecheq_jax.corpora import StrictExclusionError, read_corpus
from speecheq_jax.errors import Exclusion
from speecheq_jax.utterance import Utterance, write_jsonl

SAMPLE_RATE = 16000


def write_wav(path: Path, seconds: float = 0.2, seed: int = 0) -> Path:
    """A short sine-plus-noise PCM16 WAV (0.2 s: above frames.MIN_SECONDS); seconds=0 writes a header only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(seed).normal(0.0, 0.01, t.shape)
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * 220 * t) + noise, SAMPLE_RATE, subtype="PCM_16")
    return path


def write_text(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


# --- IEMOCAP ---------------------------------------------------------------

# (utterance suffix, label, arousal, transcript) of the one improvised dialog of every session.
IEMOCAP_IMPRO = (
    ("F000", "neu", 2.0, "Excuse me."),
    ("M000", "exc", 4.0, "Do you have your forms? [LAUGHTER]"),
    ("F001", "fru", 3.0, "Yeah."),
    ("M001", "ang", 5.0, "You need to fill this out."),
)
# Session 1 also has a scripted dialog (its name holds a '_1' part).
IEMOCAP_SCRIPT = (("F000", "sad", 1.5, "I'm sorry."), ("M000", "xxx", 3.0, "What?"))


def make_iemocap(root: Path, sessions: int = 5) -> Path:
    """SessionN trees; Session1 adds a scripted dialog and one WAV with no label line."""
    for n in range(1, sessions + 1):
        session = root / f"Session{n}"
        _iemocap_dialog(session, f"Ses0{n}F_impro01", IEMOCAP_IMPRO)
        if n == 1:
            _iemocap_dialog(session, "Ses01F_script01_1", IEMOCAP_SCRIPT)
            write_wav(session / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F002.wav")
    return root


def _iemocap_dialog(session: Path, dialog: str, rows: tuple) -> None:
    labels = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    transcript = []
    for i, (suffix, label, arousal, text) in enumerate(rows):
        utt = f"{dialog}_{suffix}"
        start, end = 2.0 * i + 0.5, 2.0 * i + 1.75
        labels += [
            f"[{start:.4f} - {end:.4f}]\t{utt}\t{label}\t[2.5000, {arousal:.4f}, 3.0000]",
            "C-E1:\tNeutral;\t()",
            "C-E2:\tFrustration; Anger;\t(annoyed)",
            "A-E1:\tval 3; act 2; dom  2;\t()",
            "A-F1:\tval 2; act 3; dom  3;\t(mildly aggravated)",
            "",
        ]
        transcript.append(f"{utt} [{start:08.4f}-{end:08.4f}]: {text}")
        write_wav(session / "sentences" / "wav" / dialog / f"{utt}.wav", seed=i)
    transcript += ["M: [BREATHING]", f"{dialog}_FXX0 [099.0000-100.0000]: Overlapping speech."]
    write_text(session / "dialog" / "EmoEvaluation" / f"{dialog}.txt", labels)
    write_text(session / "dialog" / "transcriptions" / f"{dialog}.txt", transcript)


# --- CASIA -----------------------------------------------------------------

CASIA_SPEAKERS = ("liuchanhg", "wangzhe", "zhaoquanyin", "zhaozuoxiang")
CASIA_EMOTIONS = ("angry", "fear", "happy", "neutral", "sad", "surprise")


def make_casia(root: Path, per_emotion: int = 2) -> Path:
    """<speaker>/<emotion>/<n>.wav, n = 201, 202, ..."""
    for speaker in CASIA_SPEAKERS:
        for emotion in CASIA_EMOTIONS:
            for n in range(201, 201 + per_emotion):
                write_wav(root / speaker / emotion / f"{n}.wav")
    return root


# --- ESD -------------------------------------------------------------------

ESD_SPEAKERS = ("0001", "0002", "0004", "0005", "0011", "0012", "0015", "0016")
ESD_EMOTIONS = ("Neutral", "Angry", "Happy", "Sad", "Surprise")
ESD_CHINESE_EMOTIONS = ("中立", "生气", "快乐", "伤心", "惊喜")
ESD_TEXT = {"cmn": "打远一看，它们的确很是美丽，", "eng": "Author of the danger trail, Philip Steels, etc."}


def make_esd(root: Path, official: bool = True) -> Path:
    """Per speaker and emotion three utterances, in train/evaluation/test subfolders if `official`."""
    for speaker in ESD_SPEAKERS:
        lang = "cmn" if int(speaker) <= 10 else "eng"
        lines = []
        for e, emotion in enumerate(ESD_EMOTIONS):
            for j, part in enumerate(("train", "evaluation", "test")):
                utt = f"{speaker}_{350 * e + j + 1:06d}"
                folder = root / speaker / emotion / (part if official else "")
                write_wav(folder / f"{utt}.wav")
                native = ESD_CHINESE_EMOTIONS[e] if lang == "cmn" else emotion
                lines.append(f"{utt}\t{ESD_TEXT[lang]}\t{native}")
        write_text(root / speaker / f"{speaker}.txt", lines)
    return root


# --- RAVDESS ---------------------------------------------------------------

# (emotion, intensity, statement, repetition) of the speech files of every actor.
RAVDESS_SPEECH = (("01", "01", "01", "01"), ("02", "02", "02", "01"), ("05", "02", "01", "01"), ("03", "01", "02", "02"))


def make_ravdess(root: Path, actors: int = 6) -> Path:
    """Actor_NN folders: 4 speech files and 1 song file each; Actor_01 adds one full-AV name."""
    for actor in range(1, actors + 1):
        folder = root / f"Actor_{actor:02d}"
        for emotion, intensity, statement, repetition in RAVDESS_SPEECH:
            write_wav(folder / f"03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}.wav")
        write_wav(folder / f"03-02-03-01-01-01-{actor:02d}.wav")
    write_wav(root / "Actor_01" / "01-01-05-01-01-01-01.wav")
    return root


# --- CREMA-D ---------------------------------------------------------------

CREMAD_SEX = {"1001": "Male", "1002": "Female", "1003": "Female", "1004": "Male", "1005": "Male", "1006": "Female"}
CREMAD_FILES = ("DFA_ANG_HI", "IEO_NEU_XX", "TIE_SAD_LO", "IOM_HAP_XX", "MTI_DIS_MD")


def make_cremad(root: Path) -> Path:
    """AudioWAV with 5 files per actor, one empty WAV (1006_WSI_FEA_MD), VideoDemographics.csv."""
    for actor in CREMAD_SEX:
        for name in CREMAD_FILES:
            write_wav(root / "AudioWAV" / f"{actor}_{name}.wav")
    write_wav(root / "AudioWAV" / "1006_WSI_FEA_MD.wav", seconds=0)
    write_text(root / "VideoDemographics.csv", ["ActorID,Age,Sex,Race,Ethnicity"] + [
        f"{actor},{30 + i},{sex},Caucasian,Not Hispanic" for i, (actor, sex) in enumerate(CREMAD_SEX.items())
    ])
    return root


# --- SEQD-synth -------------------------------------------------------------

# speaker -> (gender, lang, split)
SEQD_SPEAKERS = {
    "cmn_f1": ("F", "cmn", "train"), "cmn_m1": ("M", "cmn", "train"), "eng_f1": ("F", "eng", "train"),
    "eng_m1": ("M", "eng", "valid"), "cmn_f2": ("F", "cmn", "test"), "eng_m2": ("M", "eng", "test"),
}


def make_seqd(root: Path) -> Path:
    """manifest.jsonl as the generator writes it: per speaker a neutral and an angry@2/3 utterance."""
    utterances = []
    for speaker, (gender, lang, split) in SEQD_SPEAKERS.items():
        for category, intensity in (("neutral", 0.0), ("angry", 2 / 3)):
            utt_id = f"{speaker}_{category}"
            write_wav(root / "wav" / f"{utt_id}.wav")
            utterances.append(Utterance(
                id=utt_id, audio_path=f"wav/{utt_id}.wav", corpus="seqd_synth", speaker=speaker, gender=gender,
                lang=lang, text="ni3 hao3" if lang == "cmn" else "hello", phonemes=("n", "i", "3"),
                category=category, intensity=intensity, native_label=category, group=split,
            ))
    write_jsonl(utterances, root / "manifest.jsonl")
    return root


# --- Defects -----------------------------------------------------------------


def write_silent_wav(path: Path, seconds: float = 0.5) -> Path:
    """A PCM16 WAV of all-zero samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(seconds * SAMPLE_RATE)), SAMPLE_RATE, subtype="PCM_16")
    return path


def write_defects(folder: Path, stems: dict[str, str]) -> dict[str, str]:
    """Writes one defective file per stem: kind 'zero_length' | 'undecodable' | 'silent' | 'too_short'.

    Returns {file name: the reason the audio check must give}.
    """
    reasons = {"zero_length": "zero-length file", "undecodable": "cannot decode audio",
               "silent": "silent (all-zero) audio", "too_short": "too short for the model (< 0.16 s)"}
    folder.mkdir(parents=True, exist_ok=True)
    for stem, kind in stems.items():
        path = folder / f"{stem}.wav"
        if kind == "zero_length":
            path.write_bytes(b"")
        elif kind == "undecodable":
            path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot audio at all")
        elif kind == "silent":
            write_silent_wav(path)
        else:
            write_wav(path, seconds=0.1)
    return {f"{stem}.wav": reasons[kind] for stem, kind in stems.items()}


def make_defective_cremad(root: Path) -> dict[str, str]:
    """make_cremad plus one file of each defect, and actor 1006's every file silent.

    Returns {file name: expected reason} of every file that must be excluded and named.
    """
    make_cremad(root)
    audio = root / "AudioWAV"
    expected = {"1006_WSI_FEA_MD.wav": "header only, no samples"}
    write_wav(audio / "1001_DFA_ANG_H.wav")  # the one-letter level of real copies
    expected["1001_DFA_ANG_H.wav"] = "file name breaks the naming scheme"
    write_wav(audio / "._1001_DFA_ANG_HI.wav")  # macOS companion: excluded by rule, counted, not named
    expected |= write_defects(audio, {
        "1002_WSI_ANG_HI": "zero_length", "1003_WSI_ANG_HI": "undecodable",
        "1004_WSI_ANG_HI": "silent", "1005_WSI_ANG_HI": "too_short",
    })
    expected |= write_defects(audio, {f"1006_{name}": "silent" for name in CREMAD_FILES})
    return expected


def make_defective_casia(root: Path) -> dict[str, str]:
    """make_casia (1 file per emotion) plus an unknown emotion folder, defects, and zhaozuoxiang all silent.

    Returns {path relative to root: expected reason}.
    """
    make_casia(root, per_emotion=1)
    write_wav(root / "wangzhe" / "bored" / "201.wav")
    expected = {"wangzhe/bored/201.wav": "unknown label code"}
    for speaker, stems in (("liuchanhg", {"202": "zero_length", "203": "too_short"}),
                           ("wangzhe", {"202": "undecodable"})):
        found = write_defects(root / speaker / "angry", stems)
        expected |= {f"{speaker}/angry/{name}": reason for name, reason in found.items()}
    for emotion in CASIA_EMOTIONS:
        found = write_defects(root / "zhaozuoxiang" / emotion, {"201": "silent"})
        expected |= {f"zhaozuoxiang/{emotion}/{name}": reason for name, reason in found.items()}
    return expected


def expect_exclusion(corpus: str, root: Path, file_pattern: str, reason: str, **read_kwargs) -> Exclusion:
    """Reads `root` twice and checks one defect both ways; returns its Exclusion.

    Non-strict: the read completes and exactly one excluded file matches
    `file_pattern` (a regex searched in the file), with `reason`. Strict: the
    read stops with a one-line StrictExclusionError naming the first defect met
    (this one when the tree has no other) and its reason.
    """
    data = read_corpus(corpus, root, phonemize=False, **read_kwargs)
    found = [e for e in data.excluded_files if re.search(file_pattern, e.file)]
    assert len(found) == 1, data.excluded_files
    assert found[0].reason == reason, found[0]
    assert data.excluded[reason] >= 1
    with pytest.raises(StrictExclusionError) as error:
        read_corpus(corpus, root, phonemize=False, strict=True, **read_kwargs)
    message = str(error.value)
    assert "\n" not in message, message
    assert any(message.startswith(f"{e.file}: {e.reason}") for e in data.excluded_files), message
    return found[0]


# --- EmoBox ----------------------------------------------------------------

EMOBOX_LABEL_MAP = {"neu": "Neutral", "hap": "Happy", "ang": "Angry", "sad": "Sad", "fru": "Frustrated"}
# (session, utterance suffix, emo) of every good line: 3 sessions, 2 speakers each (F, M), 2 clips a speaker.
EMOBOX_LINES = tuple((s, suffix, emo) for s in (1, 2, 3)
                     for suffix, emo in (("F000", "neu"), ("F001", "ang"), ("M000", "hap"), ("M001", "sad")))


def emobox_wav(session: int, suffix: str) -> str:
    """The wav path, relative to the audio root, of IEMOCAP utterance Ses0<session>F_impro01_<suffix>."""
    return f"Session{session}/sentences/wav/Ses0{session}F_impro01/Ses0{session}F_impro01_{suffix}.wav"


def emobox_line(key: str, wav: str, emo: str | None, dataset: str = "iemocap") -> str:
    """One EmoBox JSON line (no 'emo' field when emo is None)."""
    row = {"key": key, "dataset": dataset, "wav": wav, "sample_rate": 16000, "length": 0.2, "emo": emo, "channel": 1}
    return json.dumps({k: v for k, v in row.items() if v is not None})


def make_emobox(root: Path, dataset: str = "iemocap", defects: bool = True) -> tuple[Path, Path]:
    """(DIR, AUDIO_ROOT) in EmoBox's layout: 3 leave-one-session-out folds of EMOBOX_LINES.

    With `defects`, fold 1's test file also holds a line that is not JSON, a line without 'emo', a
    missing WAV (..._F009), an emo not in label_map.json ('xyz', ..._F010), a 'fru' line (outside
    the taxonomy: dropped, counted) and Ses03F_impro01_M001 (also in fold 1's train); fold 1's
    train file lists Ses02F_impro01_F000 twice.
    """
    data_dir, audio = root / "data" / dataset, root / "audio"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "label_map.json").write_text(json.dumps(EMOBOX_LABEL_MAP))
    lines: dict[str, tuple[int, str]] = {}
    for session, suffix, emo in EMOBOX_LINES:
        write_wav(audio / emobox_wav(session, suffix), seed=len(lines))
        key = f"Ses0{session}F_impro01_{suffix}"
        lines[key] = (session, emobox_line(key, emobox_wav(session, suffix), emo, dataset))
    for fold in (1, 2, 3):
        train = [line for session, line in lines.values() if session != fold]
        test = [line for session, line in lines.values() if session == fold]
        if defects and fold == 1:
            test += ["{not json", emobox_line("Ses01F_impro01_F008", emobox_wav(1, "F000"), None, dataset),
                     emobox_line("Ses01F_impro01_F009", emobox_wav(1, "F009"), "neu", dataset),
                     emobox_line("Ses01F_impro01_F010", emobox_wav(1, "F000"), "xyz", dataset),
                     emobox_line("Ses01F_impro01_F011", emobox_wav(1, "F000"), "fru", dataset),
                     lines["Ses03F_impro01_M001"][1]]
            train.append(lines["Ses02F_impro01_F000"][1])
        write_text(data_dir / f"fold_{fold}" / f"{dataset}_train_fold_{fold}.jsonl", train)
        write_text(data_dir / f"fold_{fold}" / f"{dataset}_test_fold_{fold}.jsonl", test)
    return data_dir, audio
