"""Soak: the main job trained 3x longer while its resident memory is sampled (not a test).

    python bench/soak.py --workdir /tmp/soak
    python bench/soak.py --workdir /tmp/soak_check --steps 40 -- --config.train.eval_every=20

Runs `python -m speecheq_jax.main --config configs/demo.py:steps=N` (N = 3x the
demo's training steps unless `--steps` says otherwise; arguments after `--`
go to the job), and every `--interval` seconds sums the resident memory
(RSS, /proc/<pid>/status VmRSS through psutil) of the job and all its
children. A leak shows as RSS that grows from one validation to the next;
a healthy run is flat once the first validation and checkpoint have
allocated their buffers.

Writes to `<workdir>/soak/`: `memory.csv` (seconds, rss_mib, processes,
train step last logged), `memory.png` (the curve, validations marked) and
`job.log` (the job's output). Prints the RSS at each validation, its
change from the first validation to the last, and the least-squares slope of
RSS against time and against training steps over that stretch (training and
validation only: start-up, compilation and the final test are left out).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from matplotlib.figure import Figure

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "demo.py"
_TRAIN_STEP = re.compile(r"step (\d+) \|")
_VALIDATION = re.compile(r"step (\d+) valid:")


def demo_steps() -> int:
    """The demo config's training steps."""
    spec = importlib.util.spec_from_file_location("demo_config", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return int(module.get_config().train.num_steps)


class JobOutput:
    """Reads the job's output on a thread: writes it to a log, keeps the last step and the validations."""

    def __init__(self, process: subprocess.Popen, log_path: Path, start: float):
        self.step = 0
        self.validations: list[tuple[float, int]] = []  # (seconds since start, step)
        self._thread = threading.Thread(target=self._read, args=(process, log_path, start), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen, log_path: Path, start: float) -> None:
        with log_path.open("w") as log:
            for line in process.stdout:
                log.write(line)
                for piece in line.split("\r"):  # progress bars redraw with carriage returns
                    if found := _TRAIN_STEP.search(piece):
                        self.step = int(found.group(1))
                    if found := _VALIDATION.search(piece):
                        self.validations.append((time.perf_counter() - start, int(found.group(1))))

    def join(self) -> None:
        self._thread.join()


def tree_rss(process: psutil.Process) -> tuple[float, int]:
    """(resident MiB of `process` and every descendant, how many processes): those gone mid-read count 0."""
    total, count = 0, 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
            count += 1
        except psutil.NoSuchProcess:
            pass
    return total / 2**20, count


def sample(process: subprocess.Popen, output: JobOutput, interval: float, start: float) -> list[tuple]:
    """(seconds, rss_mib, processes, step) every `interval` s until the job exits."""
    handle, rows = psutil.Process(process.pid), []
    while process.poll() is None:
        try:
            rss, count = tree_rss(handle)
        except psutil.NoSuchProcess:
            break
        if rss > 0:  # 0: the job has exited and not yet been reaped
            rows.append((round(time.perf_counter() - start, 2), round(rss, 1), count, output.step))
        time.sleep(interval)
    return rows


def rss_at(rows: list[tuple], seconds: float) -> float:
    """RSS of the first sample at or after `seconds` (the last sample if none)."""
    return next((row[1] for row in rows if row[0] >= seconds), rows[-1][1])


def slopes(rows: list[tuple], since: float, until: float) -> tuple[float, float]:
    """Least-squares slope of RSS between two times: (MiB per hour, MiB per 1000 training steps)."""
    steady = np.array([row for row in rows if since <= row[0] <= until], dtype=float)
    if len(steady) < 2:
        return float("nan"), float("nan")
    per_second = np.polyfit(steady[:, 0], steady[:, 1], 1)[0]
    trained = steady[:, 3]
    per_step = np.polyfit(trained, steady[:, 1], 1)[0] if np.ptp(trained) > 0 else float("nan")
    return per_second * 3600, per_step * 1000


def plot(rows: list[tuple], validations: list[tuple[float, int]], path: Path, title: str) -> None:
    figure = Figure(figsize=(9, 4.5))
    axes = figure.add_subplot()
    data = np.array(rows, dtype=float)
    axes.plot(data[:, 0], data[:, 1], lw=1.2, label="RSS, job + children")
    for i, (seconds, step) in enumerate(validations):
        axes.axvline(seconds, color="tab:red", ls="--", lw=0.8, label="validation" if i == 0 else None)
        axes.annotate(f"{step}", (seconds, 1), xycoords=("data", "axes fraction"), fontsize=7, rotation=90,
                      va="top", ha="right", color="tab:red")
    axes.set(xlabel="seconds since start", ylabel="resident memory (MiB)", title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="the job's workdir; results go to WORKDIR/soak/")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: 3x the demo's)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between memory samples")
    parser.add_argument("job_args", nargs="*", help="after --: more arguments for the job (config overrides)")
    args = parser.parse_args()
    steps = args.steps or 3 * demo_steps()
    out = Path(args.workdir) / "soak"
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-u", "-m", "speecheq_jax.main", "--config", f"{DEMO}:steps={steps}",
               "--workdir", args.workdir, *args.job_args]
    print(" ".join(command))
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = JobOutput(process, out / "job.log", start)
    rows = sample(process, output, args.interval, start)
    output.join()
    with (out / "memory.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seconds", "rss_mib", "processes", "step"])
        writer.writerows(rows)
    if not rows:
        print(f"the job ended before the first sample (exit code {process.returncode}); see {out / 'job.log'}")
        return 1
    plot(rows, output.validations, out / "memory.png", f"soak: demo, {steps} steps, exit code {process.returncode}")
    print(f"exit code {process.returncode}; {len(rows)} samples in {rows[-1][0]:.0f} s; peak RSS "
          f"{max(r[1] for r in rows):.0f} MiB; {out / 'memory.csv'}, {out / 'memory.png'}")
    for seconds, step in output.validations:
        print(f"validation at step {step} ({seconds:.0f} s): RSS {rss_at(rows, seconds):.0f} MiB")
    if len(output.validations) > 1:
        (first, first_step), (last, last_step) = output.validations[0], output.validations[-1]
        per_hour, per_kstep = slopes(rows, first, last)
        print(f"training from validation {first_step} to {last_step}: RSS {rss_at(rows, last) - rss_at(rows, first):+.0f} "
              f"MiB; slope {per_hour:+.1f} MiB/hour, {per_kstep:+.1f} MiB per 1000 steps")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
