"""g2p: tokenisation rules on fixed espeak-ng outputs, and one live call per language."""

import shutil

import pytest

from speecheq_jax.features import g2p

# Verbatim `espeak-ng -q -x --sep=' '` outputs of espeak-ng 1.51.
_CMN_RAW = "w 'o21 _|  m @44 n _|  tS; 'i55 n _|  th 'iE55 n _|  tS;h 'y51 _|  'y&35 n _|"
_ENG_RAW = "D I2 ;  'oU l d  l 'aI t h aU s  k 'i: p 3  _!  ,aU %s"


@pytest.mark.unit
def test_mandarin_splits_tone_contours_and_keeps_palatal_marks():
    assert g2p.tokenize(_CMN_RAW, "cmn") == [
        "w", "o", "21", "m", "@", "44", "n", "tS;", "i", "55", "n", "th", "iE", "55", "n",
        "tS;h", "y", "51", "y&", "35", "n",
    ]


@pytest.mark.unit
def test_english_keeps_digits_drops_pauses_stress_and_stray_semicolon():
    assert g2p.tokenize(_ENG_RAW, "eng") == [
        "D", "I2", "oU", "l", "d", "l", "aI", "t", "h", "aU", "s", "k", "i:", "p", "3", "aU", "s",
    ]


@pytest.mark.unit
def test_language_switch_marks_are_dropped():
    assert g2p.tokenize("(en) h @ l 'oU (cmn) n 'i21", "cmn") == ["h", "@", "l", "oU", "n", "i", "21"]


@pytest.mark.unit
def test_to_pinyin_converts_characters_and_passes_pinyin_through():
    assert g2p.to_pinyin("我们去公园。") == "wo3 men5 qu4 gong1 yuan2"
    assert g2p.to_pinyin("ni3 hao3") == "ni3 hao3"


@pytest.mark.unit
def test_phonemize_rejects_unknown_language():
    with pytest.raises(ValueError, match="no g2p voice for language 'fra'"):
        g2p.phonemize("bonjour", "fra")


@pytest.mark.unit
def test_missing_espeak_names_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install -y espeak-ng sox"):
        g2p.require_espeak()


@pytest.mark.integration
def test_live_phonemize_matches_characters_and_pinyin():
    from_characters = g2p.phonemize("你好", "cmn")
    assert from_characters == g2p.phonemize("ni3 hao3", "cmn")
    # espeak-ng applies third-tone sandhi: ni3 before hao3 is spoken rising (35).
    assert from_characters == ("n", "i", "35", "X", "Au", "214")
    assert g2p.phonemize("The old door.", "eng") == ("D", "I2", "oU", "l", "d", "d", "o@")
