"""IEMOCAP reader on a fixture tree in the real layout (EmoEvaluation blocks, transcriptions)."""

import collections
import shutil

import pytest

from speecheq_jax import labels
from speecheq_jax.corpora import CorpusLayoutError, read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data(iemocap_root):
    return read_corpus("iemocap", iemocap_root, phonemize=False)


def test_counts_mapping_and_exclusions(data):
    assert collections.Counter(u.category for u in data.utterances) == {"neutral": 5, "happy": 5, "angry": 5, "sad": 1}
    assert data.excluded == {
        "category dropped: frustrated is not in the taxonomy": 5,
        "category dropped: annotators did not agree (xxx)": 1,
        "WAV without an EmoEvaluation summary line": 1,
    }
    assert data.mapping["exc"] == "happy" and data.mapping["fru"].startswith("DROP")
    assert [u.id for u in data.utterances] == sorted(u.id for u in data.utterances)


def test_speaker_is_session_plus_suffix_letter_not_dialog_prefix(data):
    by_id = {u.id: u for u in data.utterances}
    male = by_id["Ses01F_impro01_M000"]
    assert (male.speaker, male.gender, male.group) == ("Ses01M", "M", "Session1")
    assert (male.native_label, male.category) == ("exc", "happy")
    assert male.text == "Do you have your forms? [LAUGHTER]"
    scripted = by_id["Ses01F_script01_1_F000"]
    assert (scripted.speaker, scripted.category, scripted.text) == ("Ses01F", "sad", "I'm sorry.")
    assert scripted.audio_path.endswith("Session1/sentences/wav/Ses01F_script01_1/Ses01F_script01_1_F000.wav")
    assert {u.speaker for u in data.utterances} == {f"Ses0{n}{g}" for n in range(1, 6) for g in "FM"}
    assert {u.lang for u in data.utterances} == {"eng"}


def test_intensity_is_masked_except_neutral_unless_arousal_is_asked_for(data, iemocap_root):
    assert {u.intensity for u in data.utterances if u.category == "neutral"} == {0.0}
    assert {u.intensity for u in data.utterances if u.category != "neutral"} == {None}
    arousal = read_corpus("iemocap", iemocap_root, labels.LabelOptions.from_mapping({"iemocap_arousal": True}), phonemize=False)
    by_id = {u.id: u.intensity for u in arousal.utterances}
    assert by_id["Ses02F_impro01_F000"] == 0.25  # arousal 2 -> (2 - 1) / 4
    assert by_id["Ses02F_impro01_M001"] == 1.0  # arousal 5


def test_four_class_with_masking_keeps_outside_utterances_for_other_tasks(iemocap_root):
    options = labels.LabelOptions(label_set=("neutral", "happy", "angry", "sad"), outside="mask")
    data = read_corpus("iemocap", iemocap_root, options, phonemize=False)
    assert collections.Counter(u.category for u in data.utterances) == {
        "neutral": 5, "happy": 5, "angry": 5, "sad": 1, None: 6,
    }
    assert data.excluded == {"WAV without an EmoEvaluation summary line": 1}


def _one_session(tmp_path):
    return fixtures.make_iemocap(tmp_path, sessions=1)


def test_unparsable_label_line_names_file_and_line(tmp_path):
    root = _one_session(tmp_path)
    label_file = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    label_file.write_text(label_file.read_text() + "[1.0 - 2.0]\tSes01F_impro01_F009\tneu\n")
    line = len(label_file.read_text().splitlines())
    fixtures.expect_exclusion("iemocap", root, rf"Ses01F_impro01.txt:{line}$", "label line breaks the scheme")


def test_unknown_emotion_code_names_file_and_line(tmp_path):
    root = _one_session(tmp_path)
    label_file = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    label_file.write_text(label_file.read_text().replace("\tneu\t", "\tjoy\t"))
    found = fixtures.expect_exclusion("iemocap", root, r"Ses01F_impro01.txt:3$", "unknown label code")
    assert "iemocap: unknown emotion code 'joy'" in found.detail


def test_missing_and_unreadable_wavs_are_excluded(tmp_path):
    root = _one_session(tmp_path)
    wav = root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav"
    wav.write_bytes(b"not a wav at all")
    fixtures.expect_exclusion("iemocap", root, r"M001.wav$", "cannot decode audio")
    wav.unlink()
    fixtures.expect_exclusion("iemocap", root, r"M001.wav$", "audio file missing")


def test_missing_transcript_line_and_wrong_root(tmp_path):
    root = _one_session(tmp_path)
    with pytest.raises(CorpusLayoutError, match="found no iemocap audio; expected IEMOCAP_full_release"):
        read_corpus("iemocap", root / "Session1", phonemize=False)
    with pytest.raises(CorpusLayoutError, match="is not a directory"):
        read_corpus("iemocap", tmp_path / "nowhere", phonemize=False)
    shutil.rmtree(root / "Session1/dialog/transcriptions")
    with pytest.raises(ValueError, match="missing IEMOCAP transcription file"):
        read_corpus("iemocap", root, phonemize=False)
