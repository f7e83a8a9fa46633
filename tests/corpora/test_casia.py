"""CASIA reader: <speaker>/<emotion>/<n>.wav, documented genders, no transcripts."""

import collections

import pytest

from speecheq_jax import labels
from speecheq_jax.corpora import CorpusLayoutError, read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


def test_every_file_becomes_one_labelled_utterance(casia_root):
    data = read_corpus("casia", casia_root, phonemize=False)
    assert len(data.utterances) == 4 * 6 * 2 and data.excluded == {}
    assert collections.Counter(u.category for u in data.utterances) == {
        name: 8 for name in ("angry", "fear", "happy", "neutral", "sad", "surprise")
    }
    by_id = {u.id: u for u in data.utterances}
    utt = by_id["zhaoquanyin_fear_202"]
    assert (utt.speaker, utt.gender, utt.lang, utt.native_label, utt.group) == ("zhaoquanyin", "F", "cmn", "fear", "zhaoquanyin")
    assert utt.text is None and utt.phonemes is None and utt.intensity is None
    genders = {u.speaker: u.gender for u in data.utterances}
    assert genders == {"liuchanhg": "F", "wangzhe": "M", "zhaoquanyin": "F", "zhaozuoxiang": "M"}


def test_label_set_drops_and_counts(casia_root):
    data = read_corpus("casia", casia_root, labels.LabelOptions(label_set=("angry", "sad")), phonemize=False)
    assert len(data.utterances) == 16
    assert data.excluded == {f"category dropped: {name} is outside label_set": 8
                             for name in ("fear", "happy", "neutral", "surprise")}


def test_unknown_emotion_folder_is_excluded_and_unknown_speaker_is_an_error(tmp_path):
    root = fixtures.make_casia(tmp_path / "a", per_emotion=1)
    fixtures.write_wav(root / "wangzhe" / "bored" / "201.wav")
    found = fixtures.expect_exclusion("casia", root, r"wangzhe/bored/201.wav$", "unknown label code")
    assert "casia: unknown emotion code 'bored'" in found.detail
    other = fixtures.make_casia(tmp_path / "b", per_emotion=1)
    fixtures.write_wav(other / "someone" / "angry" / "201.wav")
    with pytest.raises(CorpusLayoutError, match=r"unknown CASIA speaker folder\(s\) \['someone'\]"):
        read_corpus("casia", other, phonemize=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusLayoutError, match="found no casia audio; expected <speaker>/<emotion>/<n>.wav"):
        read_corpus("casia", tmp_path / "empty", phonemize=False)
