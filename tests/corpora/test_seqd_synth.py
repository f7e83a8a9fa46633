"""SEQD-synth reader: the generator's manifest.jsonl with its fixed split."""

import pytest

from speecheq_jax import labels
from speecheq_jax.corpora import CorpusLayoutError, read_corpus
from tests.corpora import fixtures

pytestmark = pytest.mark.unit


def test_records_keep_shipped_phonemes_and_splits(seqd_root):
    data = read_corpus("seqd_synth", seqd_root)  # phonemize on: shipped phonemes must win over g2p
    assert len(data.utterances) == 12 and data.excluded == {}
    utt = {u.id: u for u in data.utterances}["eng_m1_angry"]
    assert (utt.corpus, utt.group, utt.category, utt.gender, utt.lang) == ("seqd_synth", "valid", "angry", "M", "eng")
    assert utt.intensity == pytest.approx(2 / 3) and utt.phonemes == ("n", "i", "3")
    assert utt.audio_path == str(seqd_root / "wav" / "eng_m1_angry.wav")


def test_label_options_apply(seqd_root):
    data = read_corpus("seqd_synth", seqd_root, labels.LabelOptions(label_set=("angry",)), phonemize=False)
    assert {u.category for u in data.utterances} == {"angry"}
    assert data.excluded == {"category dropped: neutral is outside label_set": 6}


def test_group_outside_the_fixed_splits_and_missing_manifest(tmp_path):
    root = fixtures.make_seqd(tmp_path / "a")
    manifest = root / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace('"group": "valid"', '"group": "dev"', 1))
    found = fixtures.expect_exclusion("seqd_synth", root, r"manifest.jsonl:7$", "label line breaks the scheme")
    assert found.detail.startswith("group 'dev'")
    (tmp_path / "b").mkdir()
    with pytest.raises(CorpusLayoutError, match="no manifest.jsonl"):
        read_corpus("seqd_synth", tmp_path / "b", phonemize=False)
