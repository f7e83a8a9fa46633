"""Rendering ONE planned SEQD-synth utterance: espeak-ng speaks it, sox colours it, noise is added.

`synth.generate.plan` decides who says what with which emotion (a `Job`); `render`
turns a Job into a 16 kHz PCM16 WAV and its manifest record. espeak-ng is
GPL-3, so both programs run as external processes only; speakers are
espeak-ng voice variants written into a private `--path` data directory
(`make_private_espeak_path`) whose other entries link to the system's data.
Each utterance's jitter comes from an RNG seeded by (seed, index), so a file
does not depend on which worker renders it.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import soundfile

from speecheq_jax import labels
from speecheq_jax.features import g2p
from speecheq_jax.synth.voices import LEVELS, Prosody, Voice, jittered, prosody, variant_text
from speecheq_jax.utterance import Utterance

CORPUS = "seqd_synth"
SAMPLE_RATE = 16_000
_HEADROOM_DB = -12.0


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
