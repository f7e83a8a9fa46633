"""Does multitask training help the emotion category? Six arms x SEQD-synth's folds x several seeds.

Arms (all on the README's main job, configs/demo.py: same generated corpus, same
speaker-disjoint folds, same steps, schedule and model; only the heads and the
task weighting change):

  category            the category head alone
  +intensity          category + intensity
  +phoneme            category + phoneme (CTC, weight 3.0 as in the demo)
  +gender             category + gender
  all four            the four heads, static weights (the demo)
  all four, uncert.   the four heads, learned uncertainty weighting (Kendall et al. 2018)

Every arm x seed is the cross-validation job itself (`python -m speecheq_jax.main
--mode crossval`, one subprocess): SEQD-synth's speaker_independent folds, so every
speaker is a test speaker exactly once; in each fold the checkpoint is chosen on
validation UA and scored once on that fold's held-out TEST speakers. One record per
arm x seed x fold. Writes to --out:
  ablation.json   every record: arm, seed, fold, wall seconds and commit (of the arm x seed job), all
                  overall test metrics of the fold; runs of arms or seeds another invocation ran are kept
  ablation.md     mean +- std per arm over fold x seed; paired differences (UA, macro-F1)
                  against "category" per (fold, seed) pair, with a bootstrap 95% interval over pairs
  ablation.png    per-arm means with every fold x seed value
The table and plot cover every run in --out, so arms run by separate invocations (one per
machine, or side by side) end up in one table.

Resumable: a fold whose test predictions exist is not run again (crossval skips it), so the
same command after an interruption finishes the rest. Progress (job i of n, elapsed,
estimated time left) goes to stderr; each job's log is <out>/<arm>/seed<N>/main.log.

    python bench/ablation.py                      # 6 arms x 5 folds x 3 seeds
    python bench/ablation.py --seeds 0 1 2 3 4    # more seeds
    python bench/ablation.py --folds fold1 fold2  # fewer folds (a shorter, weaker comparison)
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

from speecheq_jax.eval import compare

ROOT = Path(__file__).resolve().parent.parent

# arm -> command-line overrides of configs/demo.py
ARMS: dict[str, tuple[str, ...]] = {
    "category": ("--config.model.heads=('category',)",),
    "+intensity": ("--config.model.heads=('category','intensity')",),
    "+phoneme": ("--config.model.heads=('category','phoneme')",),
    "+gender": ("--config.model.heads=('category','gender')",),
    "all four": (),
    "all four, uncert.": ("--config.tasks.weighting=uncertainty",),
}
REFERENCE = "category"
TABLE_METRICS = (("category/ua", "UA"), ("category/wa", "WA"), ("category/macro_f1", "macro-F1"),
                 ("eq", "EQ"), ("intensity/ccc", "intensity CCC"), ("phoneme/per", "PER"),
                 ("gender/accuracy", "gender acc"))
PAIRED_ON = ("category/ua", "category/macro_f1")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.py", help="the experiment every arm starts from")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--folds", nargs="+", default=[], help="only these folds (default: every fold)")
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--data_dir", default=None, help="prepared datasets (default: the config's data_dir)")
    return parser.parse_args()


def run_dir(out: Path, arm: str, seed: int) -> Path:
    """<out>/<arm as a folder name>/seed<N>."""
    slug = arm.replace("+", "plus_").replace(", ", "_").replace(".", "").replace(" ", "_")
    return out / slug / f"seed{seed}"


def fold_metrics(workdir: Path, folds: list[str]) -> dict[str, dict[str, float]] | None:
    """fold -> overall test metrics (scalars only) from the job's crossval.json; None unless `folds`
    (every fold when empty) have all finished."""
    path = workdir / "crossval.json"
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    wanted = folds or result["folds_finished"] + result["folds_missing"]
    if not set(wanted) <= set(result["folds"]):
        return None
    return {fold: {k: float(v) for k, v in result["folds"][fold].items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)} for fold in wanted}


def fold_records(arm: str, seed: int, job: dict, workdir: str, metrics: dict[str, dict[str, float]]) -> list[dict]:
    """One record per fold of an arm x seed job (`job`: its wall_s and commit): the unit `compare` pairs on with
    (fold, seed)."""
    return [{"arm": arm, "seed": seed, "fold": fold, "wall_s": round(job["wall_s"], 1), "commit": job["commit"],
             "workdir": workdir, "metrics": values} for fold, values in metrics.items()]


def code_commit() -> str:
    """HEAD's short hash, with '+changes' when the package or the configs differ from it: what a job ran."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return (git("rev-parse", "--short", "HEAD") or "unknown") + (
        "+changes" if git("status", "--porcelain", "--", "speecheq_jax", "configs") else "")


def write_record(path: Path, record: dict) -> None:
    """Writes `record`, keeping the file's runs of other arm x seed jobs (another invocation's arms or seeds);
    its arms and seeds are those of all the runs it then holds."""
    done = {(r["arm"], r["seed"]) for r in record["runs"]}
    on_file = json.loads(path.read_text())["runs"] if path.exists() else []
    runs = [r for r in on_file if (r["arm"], r["seed"]) not in done] + record["runs"]
    arms = {arm: list(ARMS[arm]) for arm in ARMS if any(r["arm"] == arm for r in runs)}
    seeds = sorted({r["seed"] for r in runs})
    head = {key: value for key, value in record.items() if key not in ("config", "runs")}
    path.write_text(json.dumps({"config": record["config"], "arms": arms, "seeds": seeds, **head, "runs": runs},
                               indent=1) + "\n")


def train(args: argparse.Namespace, arm: str, seed: int, workdir: Path) -> float:
    """Runs the crossval job for one arm and seed; returns its wall seconds. A failed run stops the ablation."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "speecheq_jax.main", "--config", args.config, "--workdir", str(workdir),
               "--mode", "crossval", f"--config.seed={seed}", *ARMS[arm], *(f"--fold={fold}" for fold in args.folds)]
    if args.data_dir:
        command.append(f"--config.data.data_dir={args.data_dir}")
    start = time.perf_counter()
    with open(workdir / "main.log", "w") as log:
        done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        sys.exit(f"ablation: {arm} seed {seed} failed (exit {done.returncode}); see {workdir / 'main.log'}")
    return time.perf_counter() - start


def comparable(runs: list[dict]) -> list[dict]:
    """The runs with EQ dropped where the arm has no intensity head.

    Without intensity predictions EQ falls back to EQ@1, which IS the UA, so listing it beside
    the intensity arms' EQ (which averages EQ@1..3) would compare different quantities.
    """
    return [{**run, "metrics": {k: v for k, v in run["metrics"].items()
                                if k != "eq" or "intensity/n" in run["metrics"]}} for run in runs]


def machine() -> str:
    """'<cpu model>, <n> cores' for the record."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def main() -> None:
    args = parse_args()
    out = (ROOT / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "ablation.json"
    previous = json.loads(record_path.read_text())["runs"] if record_path.exists() else []
    jobs = {(r["arm"], r["seed"]): {"wall_s": r["wall_s"], "commit": r.get("commit", "not recorded")}
            for r in previous}  # per arm x seed job
    plan = [(arm, seed) for seed in args.seeds for arm in args.arms]
    runs, started, trained = [], time.perf_counter(), 0
    for i, (arm, seed) in enumerate(plan, 1):
        workdir = run_dir(out, arm, seed)
        metrics = fold_metrics(workdir, args.folds)
        if metrics is None:
            left = len(plan) - i + 1
            eta = "" if not trained else f", about {(time.perf_counter() - started) / trained * left / 60:.0f} min left"
            print(f"[ablation] job {i}/{len(plan)}: {arm}, seed {seed}{eta}", file=sys.stderr, flush=True)
            jobs[(arm, seed)] = {"commit": code_commit(), "wall_s": train(args, arm, seed, workdir)}
            trained += 1
            metrics = fold_metrics(workdir, args.folds)
            if metrics is None:
                sys.exit(f"ablation: {arm} seed {seed} did not finish its folds; see {workdir / 'main.log'}")
            uas = ", ".join(f"{fold} {m.get('category/ua', float('nan')):.3f}" for fold, m in metrics.items())
            print(f"[ablation]   UA {uas} in {jobs[(arm, seed)]['wall_s']:.0f} s", file=sys.stderr, flush=True)
        job = jobs.get((arm, seed), {"wall_s": float("nan"), "commit": "not recorded"})
        runs += fold_records(arm, seed, job, str(workdir.relative_to(out)), metrics)
        write_record(record_path, {"config": args.config, "folds": args.folds or "all", "machine": machine(),
                                   "date": time.strftime("%Y-%m-%d"), "split": "test", "runs": runs})
    # The table and plot: every run in --out so far (this invocation's and any other's), in ARMS order.
    order = list(ARMS)
    runs = sorted(json.loads(record_path.read_text())["runs"] if record_path.exists() else [],
                  key=lambda r: (order.index(r["arm"]), r["seed"], r["fold"]))
    table = compare.markdown_table(comparable(runs), TABLE_METRICS, reference=REFERENCE, paired_on=PAIRED_ON)
    total = sum({(r["arm"], r["seed"]): r["wall_s"] for r in runs}.values())
    folds = sorted({r["fold"] for r in runs})
    arms, seeds = sorted({r["arm"] for r in runs}, key=order.index), sorted({r["seed"] for r in runs})
    header = (f"# Multitask ablation: {args.config}, {len(arms)} arms x {len(folds)} folds x {len(seeds)} "
              f"seeds, every fold's held-out test speakers\n\nMachine: {machine()}; {len(runs)} fold runs, "
              f"{total / 60:.0f} min of crossval jobs (each fold the full main job: compile, train, validate, "
              f"test); code at {', '.join(sorted({r.get('commit', 'not recorded') for r in runs}))}.\n\n")
    (out / "ablation.md").write_text(header + table)
    compare.plot_arms(runs, [("category/ua", "test UA"), ("category/macro_f1", "test macro-F1")], str(out / "ablation.png"))
    print(header + table)
    print(f"wrote {record_path}, {out / 'ablation.md'}, {out / 'ablation.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
