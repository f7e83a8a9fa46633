r"""Prediction of long recordings: seconds of audio per second and peak memory, JAX and ONNX.

    python bench/bench_predict.py --config configs/demo.py --workdir runs/demo --export runs/demo/export \
        --minutes 1 10 60 [--json results.json]

For each length, one 16 kHz WAV of SEQD-synth utterances (from the run's
prepared data directory, or --utterances DIR) with 0.5-2 s pauses is written
(tests/serving/recordings.py), then each predictor runs on it in a child
process, exactly as a user runs it: `python -m speecheq_jax.main --mode
predict` (JAX) and `python -m speecheq_jax.predict` (onnxruntime). Reported:
wall seconds of the child (start-up, restore and compiles included), audio
seconds per wall second, and the child's peak resident memory
(`os.wait4`'s ru_maxrss, the child alone). Never asserted in the tests;
the numbers go into docs/howto/predict-recordings.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.serving.recordings import write_recording  # noqa: E402  (after the path)


def _commands(args: argparse.Namespace, audio: Path, output: Path) -> dict[str, list[str]]:
    jax_command = [sys.executable, "-m", "speecheq_jax.main", f"--config={args.config}", f"--workdir={args.workdir}",
                   "--mode=predict", f"--checkpoint={args.checkpoint}", f"--input={audio}",
                   f"--output={output}.jax.jsonl", *args.config_flag]
    onnx_command = [sys.executable, "-m", "speecheq_jax.predict", "--model", str(args.export), "--input", str(audio),
                    "--output", f"{output}.onnx.jsonl"]
    return {"jax": jax_command, "onnx": onnx_command}


def _measure(command: list[str], log: Path) -> dict[str, float]:
    """Wall seconds and peak RSS (GB) of one child process; raises if it fails."""
    start = time.perf_counter()
    with open(log, "w") as out:
        child = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[2]} failed (exit {os.waitstatus_to_exitcode(status)}); see {log}")
    return {"wall_s": round(seconds, 1), "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the run's config (as given to main.py)")
    parser.add_argument("--config_flag", action="append", default=[],
                        help="extra main.py flags for the run, e.g. --config.data.data_dir=D (repeatable)")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--export", required=True, type=Path)
    parser.add_argument("--checkpoint", default="latest")
    parser.add_argument("--utterances", type=Path, help="a directory of 16 kHz WAVs (default: the run's SEQD-synth)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--runtimes", nargs="+", default=["onnx", "jax"], choices=["onnx", "jax"])
    parser.add_argument("--out_dir", type=Path, default=Path("/tmp/bench_predict"))
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    source = args.utterances or Path(json.loads((args.workdir / "model_card.json").read_text())
                                     ["config"]["data"]["data_dir"]).expanduser()
    utterances = sorted(source.rglob("*.wav"))
    if not utterances:
        sys.exit(f"error: no .wav utterances under {source}")
    results = []
    for minutes in args.minutes:
        audio = args.out_dir / f"recording_{minutes:g}min.wav"
        if not audio.exists():
            write_recording(audio, utterances, seconds=60 * minutes)
        for runtime in args.runtimes:
            command = _commands(args, audio, args.out_dir / f"{audio.stem}")[runtime]
            print(f"{runtime} on {minutes:g} min ...", flush=True)
            row = {"runtime": runtime, "minutes": minutes,
                   **_measure(command, args.out_dir / f"{audio.stem}.{runtime}.log")}
            row["audio_s_per_s"] = round(60 * minutes / row["wall_s"], 1)
            results.append(row)
            print(f"  {row}", flush=True)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| runtime | minutes | wall s | audio s / s | peak RSS GB |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['runtime']} | {r['minutes']:g} | {r['wall_s']} | {r['audio_s_per_s']} | {r['peak_rss_gb']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
