"""Grapheme-to-phoneme conversion with espeak-ng, the one phoneme inventory.

SEQD-synth labels phonemes with what espeak-ng spoke (`--phonout`); the real
corpora's transcripts go through the same program here, so one phoneme head
serves every corpus. espeak-ng is GPL-3: it runs as an external program only.

Tokenisation: split on spaces; drop pauses (every
token starting with '_', e.g. '_|', '_:', '_!'), language-switch marks
('(en)') and stray ';' / '||'; strip stress marks (' , %); in Mandarin
split a trailing tone contour ('i35' -> 'i', '35') into its own token; in
English digits belong to the phoneme ('@2').
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

VOICES: dict[str, str] = {"eng": "en-us", "cmn": "cmn-latn-pinyin"}
_DROP = {";", "||"}
_SWITCH = re.compile(r"^\([a-z-]+\)$")
_STRESS = re.compile(r"[',%]")
_TONE = re.compile(r"^(.*?\D)(\d+)$")
_HANZI = re.compile(r"[\u3400-\u9fff]")


def require_espeak() -> str:
    """Path of espeak-ng, or a clear error telling how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError("espeak-ng is not installed: run `apt-get install -y espeak-ng sox`")
    return path


def tokenize(phoneme_text: str, lang: str) -> list[str]:
    """espeak-ng `-x --sep=' '` output (or a --phonout file) -> phoneme tokens."""
    tokens: list[str] = []
    for raw in phoneme_text.split():
        tok = _STRESS.sub("", raw)
        if not tok or tok in _DROP or tok.startswith("_") or _SWITCH.match(tok):
            continue
        if lang == "cmn":
            m = _TONE.match(tok)
            if m:
                tokens.extend([m.group(1), m.group(2)])
                continue
        tokens.append(tok)
    return tokens


def to_pinyin(text: str) -> str:
    """Chinese characters -> space-separated pinyin with tone digits (5 = neutral).

    Text already in pinyin passes through unchanged; punctuation is dropped.
    """
    if not _HANZI.search(text):
        return text
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore")
    return " ".join(s for s in syllables if re.fullmatch(r"[a-zü]+[1-5]", s))


@functools.lru_cache(maxsize=65536)
def phonemize(text: str, lang: str) -> tuple[str, ...]:
    """Transcript -> phoneme tokens in the shared inventory.

    Args:
      text: English text, or Mandarin as characters or tone-numbered pinyin.
      lang: 'eng' or 'cmn'.
    """
    if lang not in VOICES:
        raise ValueError(f"no g2p voice for language {lang!r}; known: {sorted(VOICES)}")
    spoken = to_pinyin(text) if lang == "cmn" else text
    out = subprocess.run(
        [require_espeak(), "-q", "-x", "--sep= ", "-v", VOICES[lang], spoken],
        capture_output=True, text=True, check=True,
    ).stdout
    return tuple(tokenize(out, lang))
