"""SEQD-synth: a generated Mandarin + English emotional speech corpus.

The real emotion corpora cannot be downloaded here and some are licensed, so
the project ships this generator: espeak-ng speaks the project's own sentences
with 12 speakers per language (`synth_voices`), each utterance in one of 6
emotions at intensity 1..3 (neutral 0), and sox colours and band-limits it.
The corpus carries signal for all four heads (category, intensity, phonemes,
gender) and a fixed speaker-disjoint train/valid/test split.

espeak-ng is GPL-3, so both programs run as external processes only. Speakers
are espeak-ng voice variants written into a private `--path` data directory
whose other entries link to the system's data.

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

Usage: python -m speecheq_jax.data.synth --out DIR --num N --seed S [--langs cmn,en]
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from speecheq_jax import labels
from speecheq_jax.data import g2p
from speecheq_jax.data.synth_voices import EMOTIONS, LEVELS, Prosody, Voice, jittered, prosody, speakers, variant_text
from speecheq_jax.data.utterance import Utterance, read_jsonl, write_jsonl

CORPUS = "seqd_synth"
SAMPLE_RATE = 16_000
LANGS: tuple[str, ...] = ("cmn", "eng")
LANG_ALIASES: dict[str, str] = {"en": "eng", "zh": "cmn"}
RECIPE_VERSION = 1
"""Bumped whenever the recipe changes, so old corpora are regenerated."""
MANIFEST = "manifest.jsonl"
MARKER = "complete.json"
_OUTPUTS = (MANIFEST, MARKER, "speakers.json", "wav")
_HEADROOM_DB = -12.0
_SOX_INSTALL = "sox is not installed: run `apt-get install -y espeak-ng sox`"


@dataclasses.dataclass(frozen=True)
class Job:
    """One utterance to render: everything but its per-utterance jitter."""

    index: int
    lang: str
    voice: Voice
    emotion: str
    level: int
    sentence: str
    seed: int

    @property
    def utt_id(self) -> str:
        return f"seqd_{self.lang}_{self.index:06d}"

    @property
    def relative_path(self) -> str:
        return f"wav/{self.lang}/{self.utt_id}.wav"


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
    text = importlib.resources.files("speecheq_jax.data").joinpath(f"sentences/{lang}.txt").read_text("utf-8")
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


def _system_espeak_data() -> Path:
    """The espeak-ng data directory, as the program itself reports it."""
    version = subprocess.run([g2p.require_espeak(), "--version"], capture_output=True, text=True, check=True).stdout
    if "Data at:" not in version:
        raise RuntimeError(f"cannot find the espeak-ng data directory in `espeak-ng --version`: {version!r}")
    return Path(version.split("Data at:", 1)[1].strip())


def make_private_espeak_path(root: Path) -> Path:
    """A `--path` directory: links to the system data plus a writable voices/!v.

    Returns the directory to pass as `espeak-ng --path`; variant files go into
    its espeak-ng-data/voices/!v.
    """
    system = _system_espeak_data()
    data = root / "espeak-ng-data"
    variants = data / "voices" / "!v"
    variants.mkdir(parents=True)
    for entry in system.iterdir():
        if entry.name != "voices":
            (data / entry.name).symlink_to(entry)
    for entry in (system / "voices").iterdir():
        if entry.name != "!v":
            (data / "voices" / entry.name).symlink_to(entry)
    return root


def _run(command: list[str], what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what}: {' '.join(command)} failed ({result.returncode}): "
                           f"{result.stderr.decode(errors='replace').strip()}")
    return result


def _sox_effects(utterance_prosody: Prosody, duration_s: float, rng: np.random.Generator) -> list[str]:
    """sox effect chain: headroom, a random channel band, the emotion's colouring, 16 kHz."""
    effects = ["gain", f"{_HEADROOM_DB}",
               "highpass", f"{rng.uniform(60.0, 250.0):.1f}", "lowpass", f"{rng.uniform(3400.0, 7600.0):.1f}"]
    p = utterance_prosody
    if p.treble_db:
        effects += ["treble", f"{p.treble_db:.2f}"]
    if p.overdrive:
        effects += ["overdrive", f"{p.overdrive:.2f}", "20", "gain", f"{-p.overdrive:.2f}"]
    if p.lowpass_hz:
        effects += ["lowpass", f"{p.lowpass_hz:.1f}"]
    if p.tremolo_hz:
        effects += ["tremolo", f"{p.tremolo_hz:.2f}", f"{p.tremolo_depth:.1f}"]
    if p.final_rise_cents:
        rise_s = min(0.6, 0.35 * duration_s)
        effects += ["bend", f"{duration_s - rise_s:.3f},{p.final_rise_cents:.1f},{rise_s:.3f}"]
    return effects + ["rate", f"{SAMPLE_RATE}"]


def render(job: Job, espeak_path: Path, out_dir: Path) -> Utterance:
    """Speaks, colours and writes one utterance; returns its manifest record.

    Pipeline: per-utterance variant file -> espeak-ng (22.05 kHz WAV and the
    phonemes it spoke) -> sox effects to float32 at 16 kHz -> white noise at a
    random SNR and the level change here -> PCM16 WAV.
    """
    rng = np.random.default_rng([job.seed, job.index])
    utterance_prosody = jittered(prosody(job.emotion, job.level), rng)
    name = f"seqd{job.index}"
    variant_file = espeak_path / "espeak-ng-data" / "voices" / "!v" / name
    raw_wav, phonout = espeak_path / f"{name}.wav", espeak_path / f"{name}.pho"
    variant_file.write_text(variant_text(job.voice, utterance_prosody))
    try:
        _run([g2p.require_espeak(), f"--path={espeak_path}", "-v", f"{g2p.VOICES[job.lang]}+{name}",
              "-s", str(round(job.voice.rate_wpm * utterance_prosody.rate_scale)),
              "-g", str(utterance_prosody.word_gap), "-x", "--sep= ", f"--phonout={phonout}",
              "-w", str(raw_wav), job.sentence], f"espeak-ng for {job.utt_id}")
        phonemes = tuple(g2p.tokenize(phonout.read_text(encoding="utf-8"), job.lang))
        effects = _sox_effects(utterance_prosody, soundfile.info(raw_wav).duration, rng)
        coloured = _run(["sox", "-R", "-D", str(raw_wav), "-t", "raw", "-e", "floating-point", "-b", "32",
                         "-c", "1", "-r", str(SAMPLE_RATE), "-", *effects], f"sox for {job.utt_id}").stdout
    finally:
        for path in (variant_file, raw_wav, phonout):
            path.unlink(missing_ok=True)
    if not phonemes:
        raise RuntimeError(f"espeak-ng spoke no phonemes for {job.utt_id} ({job.sentence!r})")
    speech = np.frombuffer(coloured, dtype=np.float32).astype(np.float64)
    snr_db = rng.uniform(15.0, 40.0)
    noise = rng.standard_normal(speech.shape) * np.sqrt(np.mean(speech**2)) * 10 ** (-snr_db / 20)
    audio = (speech + noise) * 10 ** (utterance_prosody.gain_db / 20)
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
    wav_path = out_dir / job.relative_path
    soundfile.write(wav_path, pcm, SAMPLE_RATE, subtype="PCM_16")
    return Utterance(
        id=job.utt_id, audio_path=job.relative_path, corpus=CORPUS, speaker=job.voice.speaker,
        gender=job.voice.gender, lang=job.lang, text=job.sentence, phonemes=phonemes,
        category=job.emotion, intensity=labels.level_intensity(job.emotion, job.level, max(LEVELS)),
        native_label=f"{job.emotion}-{job.level}", group=job.voice.split,
    )


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
    parser = argparse.ArgumentParser(prog="python -m speecheq_jax.data.synth", description=__doc__.split("\n")[0])
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
