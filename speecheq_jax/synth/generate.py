"""SEQD-synth: a generated Mandarin + English emotional speech corpus.

The real emotion corpora cannot be downloaded here and some are licensed, so
the project ships this generator: espeak-ng speaks the project's own sentences
with 12 speakers per language (`synth.voices`), each utterance in one of 6
emotions at intensity 1..3 (neutral 0), and sox colours and band-limits it.
The corpus carries signal for all four heads (category, intensity, phonemes,
gender) and a fixed speaker-disjoint train/valid/test split.

Rendering one utterance (espeak-ng + sox as external processes) is
`synth.render`; this module plans the corpus and writes it.

Determinism: the plan (who says what, how) comes from the seed alone, and each
utterance's jitter from an RNG seeded by (seed, index), so the same seed gives
byte-identical files whatever the number of workers (sox runs with -R, no
dither; quantisation to PCM16 is done here by rounding).

Layout of a corpus directory:
  manifest.jsonl        one `Utterance` per line, audio_path relative to it
  wav/<lang>/<id>.wav   16 kHz mono PCM16
  speakers.json         every speaker's voice parameters, gender, lang, split
  phonemes_<lang>.txt   the phoneme inventory of the corpus, one per line
  complete.json         written last with the parameters: the corpus is whole

Usage: python -m speecheq_jax.synth.generate --out DIR --num N --seed S [--langs cmn,en]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import importlib.resources
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from speecheq_jax.features import g2p
from speecheq_jax.synth.render import CORPUS, Job, make_private_espeak_path, render
from speecheq_jax.synth.voices import EMOTIONS, LEVELS, speakers
from speecheq_jax.utterance import Utterance, read_jsonl, write_jsonl

LANGS: tuple[str, ...] = ("cmn", "eng")
LANG_ALIASES: dict[str, str] = {"en": "eng", "zh": "cmn"}
RECIPE_VERSION = 1
"""Bumped whenever the recipe changes, so old corpora are regenerated."""
MANIFEST = "manifest.jsonl"
MARKER = "complete.json"
_OUTPUTS = (MANIFEST, MARKER, "speakers.json", "wav")
_SOX_INSTALL = "sox is not installed: run `apt-get install -y espeak-ng sox`"


def normalize_langs(langs: Sequence[str]) -> tuple[str, ...]:
    """Maps aliases ('en') to ISO 639-3 codes; rejects unknown and repeated ones."""
    out = tuple(LANG_ALIASES.get(lang.strip(), lang.strip()) for lang in langs)
    unknown = [lang for lang in out if lang not in LANGS]
    if unknown or not out:
        raise ValueError(f"unknown SEQD-synth language(s) {unknown or list(langs)}; "
                         f"known: {LANGS} (aliases {LANG_ALIASES})")
    if len(set(out)) != len(out):
        raise ValueError(f"language listed twice in {list(langs)}")
    return out


def load_sentences(lang: str) -> tuple[str, ...]:
    """The packaged sentence list of one language (Mandarin: tone-numbered pinyin)."""
    text = importlib.resources.files("speecheq_jax.synth").joinpath(f"sentences/{lang}.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def plan(num: int, seed: int, langs: Sequence[str]) -> list[Job]:
    """Who says what, how: a balanced design shuffled by the seed.

    Utterance i belongs to langs[i % len(langs)]. Within a language, row j of
    the design gives speaker j % 12 the category (j // 12 + j) % 6, so every
    speaker cycles through all categories and each category takes 1/6 of the
    rows; the rows are then shuffled, the intensity of an emotional utterance
    cycles 1, 2, 3 per category in shuffled order (uniform), and sentences
    are dealt from a shuffled list (each used equally often).
    """
    rng = np.random.default_rng(seed)
    jobs = []
    for lang_pos, lang in enumerate(langs):
        indices = range(lang_pos, num, len(langs))
        voices = speakers(lang)
        sentences = load_sentences(lang)
        sentence_order = rng.permutation(len(sentences))
        design = [(j % len(voices), (j // len(voices) + j) % len(EMOTIONS)) for j in range(len(indices))]
        shuffled = [design[t] for t in rng.permutation(len(design))]
        emotion_count: collections.Counter[str] = collections.Counter()
        for j, (index, (speaker_pos, emotion_pos)) in enumerate(zip(indices, shuffled)):
            emotion = EMOTIONS[emotion_pos]
            level = 0 if emotion == "neutral" else LEVELS[emotion_count[emotion] % len(LEVELS)]
            emotion_count[emotion] += 1
            jobs.append(Job(index, lang, voices[speaker_pos], emotion, level,
                            sentences[sentence_order[j % len(sentences)]], seed))
    return sorted(jobs, key=lambda job: job.index)


def _parameters(num: int, seed: int, langs: Sequence[str]) -> dict[str, object]:
    """What the completion marker records: a corpus is reused only if all match."""
    return {"corpus": CORPUS, "recipe_version": RECIPE_VERSION, "num": num, "seed": seed, "langs": list(langs)}


def is_complete(out_dir: Path, num: int, seed: int, langs: Sequence[str]) -> bool:
    """True when out_dir holds a finished corpus built with these parameters."""
    marker = out_dir / MARKER
    if not marker.is_file() or not (out_dir / MANIFEST).is_file():
        return False
    try:
        return json.loads(marker.read_text()) == _parameters(num, seed, langs)
    except json.JSONDecodeError:
        return False


def _clear_outputs(out_dir: Path) -> None:
    """Removes what an earlier (partial or different) run left, and only that."""
    for entry in (*_OUTPUTS, *(p.name for p in out_dir.glob("phonemes_*.txt"))):
        path = out_dir / entry
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _render_all(jobs: list[Job], espeak_path: Path, out_dir: Path, workers: int, progress: bool) -> list[Utterance]:
    work = functools.partial(render, espeak_path=espeak_path, out_dir=out_dir)
    bar = functools.partial(tqdm, total=len(jobs), desc="generate SEQD-synth", unit="utt", disable=not progress)
    if workers == 1:
        return [work(job) for job in bar(jobs)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return list(bar(pool.imap(work, jobs, chunksize=4)))


def _write_metadata(out_dir: Path, langs: Sequence[str], utterances: list[Utterance]) -> None:
    voices = [dataclasses.asdict(v) for lang in langs for v in speakers(lang)]
    (out_dir / "speakers.json").write_text(json.dumps(voices, indent=1) + "\n")
    for lang in langs:
        inventory = sorted({p for u in utterances if u.lang == lang for p in u.phonemes})
        (out_dir / f"phonemes_{lang}.txt").write_text("".join(f"{p}\n" for p in inventory), encoding="utf-8")
    write_jsonl(utterances, out_dir / MANIFEST)


def generate(out_dir: str | Path, num: int, seed: int = 0, langs: Sequence[str] = LANGS,
             workers: int | None = None, progress: bool = True) -> Path:
    """Builds (or finds complete) a SEQD-synth corpus; returns its manifest path.

    Args:
      out_dir: corpus directory (created; only this generator's outputs in it
        are ever removed).
      num: number of utterances, split evenly over `langs`.
      seed: the corpus is a pure function of (num, seed, langs).
      langs: ISO 639-3 codes ('cmn', 'eng'; 'en' accepted).
      workers: processes; None = all cores. More than one uses spawned
        processes (safe when JAX is already imported), so a calling script
        needs the usual `if __name__ == "__main__":` guard.
      progress: show a tqdm bar.
    """
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    langs = normalize_langs(langs)
    g2p.require_espeak()
    if shutil.which("sox") is None:
        raise RuntimeError(_SOX_INSTALL)
    out_dir = Path(out_dir)
    if is_complete(out_dir, num, seed, langs):
        return out_dir / MANIFEST
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_outputs(out_dir)
    for lang in langs:
        (out_dir / "wav" / lang).mkdir(parents=True)
    jobs = plan(num, seed, langs)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seqd_espeak_") as tmp:
        espeak_path = make_private_espeak_path(Path(tmp))
        utterances = _render_all(jobs, espeak_path, out_dir, workers or os.cpu_count() or 1, progress)
    _write_metadata(out_dir, langs, utterances)
    (out_dir / MARKER).write_text(json.dumps(_parameters(num, seed, langs)) + "\n")
    print(f"[generate] SEQD-synth: {len(utterances)} utterances in {time.perf_counter() - start:.1f} s to {out_dir}")
    return out_dir / MANIFEST


def summarize(utterances: Sequence[Utterance]) -> str:
    """Counts per language, split and native label: what a run logs at preparation."""
    counts = collections.Counter((u.lang, u.group, u.native_label) for u in utterances)
    return "\n".join(f"{lang:4s} {split:6s} {label:11s} {n}" for (lang, split, label), n in sorted(counts.items()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m speecheq_jax.synth.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="corpus directory")
    parser.add_argument("--num", type=int, required=True, help="number of utterances (all languages)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--langs", default=",".join(LANGS), help="comma-separated, e.g. cmn,en")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    try:
        manifest = generate(args.out, args.num, args.seed, args.langs.split(","), args.workers)
    except (ValueError, RuntimeError) as e:
        parser.exit(2, f"error: {e}\n")
    print(summarize(list(read_jsonl(manifest))))
    print(f"manifest: {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
