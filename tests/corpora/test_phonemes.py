"""Readers' phonemes: g2p (espeak-ng, an external program) of the transcripts they parse."""

import pytest

from speecheq_jax.corpora import read_corpus
from speecheq_jax.features import g2p
from tests.corpora import fixtures

pytestmark = pytest.mark.integration


def test_iemocap_phonemes_skip_non_speech_tags(tmp_path):
    data = read_corpus("iemocap", fixtures.make_iemocap(tmp_path, sessions=1))
    by_id = {u.id: u for u in data.utterances}
    assert by_id["Ses01F_impro01_M000"].phonemes == g2p.phonemize("Do you have your forms?", "eng")
    assert len(by_id["Ses01F_impro01_M000"].phonemes) > 8


def test_esd_mandarin_and_english_phonemes(esd_root):
    by_id = {u.id: u for u in read_corpus("esd", esd_root).utterances}
    mandarin = by_id["0001_000001"].phonemes
    assert mandarin == g2p.phonemize("打远一看，它们的确很是美丽，", "cmn")
    assert any(token.isdigit() for token in mandarin)  # tone contours are their own tokens
    assert by_id["0016_000001"].phonemes == g2p.phonemize("Author of the danger trail, Philip Steels, etc.", "eng")
