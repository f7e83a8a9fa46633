"""Cross-validation: every fold of a corpus's protocol as an ordinary run, then one report over them.

`crossval(config, workdir)` (`--mode crossval`):

1. prepares the config's ONE corpus and reads its folds from the prepared dataset's metadata. The
   protocol is the corpus entry's `protocol`, else the corpus's first protocol (spec order) with
   more than one fold: SEQD-synth's 'fixed' split is one fold, so its cross-validation is
   'speaker_independent', where every speaker is tested exactly once;
2. runs each fold not finished yet (all, or those named by `only`) as the usual training job
   `train_and_evaluate` on a copy of the config whose corpus entry names the protocol and fold,
   in <workdir>/folds/<fold>/: resumable and preemptible exactly as a single run. A fold is
   finished when its test predictions (<workdir>/folds/<fold>/test_predictions.npz, written last)
   exist, so a rerun skips it; a preempted fold stops the job (rerun to resume it);
3. aggregates every finished fold, whoever ran it (folds can run as separate jobs on separate
   machines with `--fold NAME` and a shared workdir), naming the folds still missing:
   <workdir>/crossval.json, crossval.md, crossval_confusion.png (eval/crossval_report.py).

Before pooling, no storage unit may be tested by two folds (an example would count twice); units
no fold tests (an official train-only part, as in EmoBox's one-fold datasets) are listed.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections

from speecheq_jax import storage
from speecheq_jax.corpora import protocols, registry
from speecheq_jax.eval import crossval_report
from speecheq_jax.eval.evaluator import evaluate
from speecheq_jax.eval.prediction_store import load_predictions, save_predictions
from speecheq_jax.input import pipeline
from speecheq_jax.jobs import evaluate_checkpoint as evaluate_lib
from speecheq_jax.jobs.train_and_evaluate import train_and_evaluate
from speecheq_jax.prep.multihost import prepare_or_refuse
from speecheq_jax.prep.prepare import PreparedDataset, open_entry
from speecheq_jax.run_config import ConfigError
from speecheq_jax.train import compile_ahead

log = logging.getLogger(__name__)
PREDICTIONS = "test_predictions.npz"
"""A fold's test predictions under <workdir>/folds/<fold>/: written last, so its presence means finished."""


def crossval(config: ml_collections.ConfigDict, workdir: storage.PathLike, only: Sequence[str] = (),
             aggregate_only: bool = False) -> dict[str, Any] | None:
    """Runs the unfinished folds (those in `only`, if given) unless `aggregate_only`, then aggregates.

    Returns the aggregate (crossval.json's content), or None when a fold was preempted.
    """
    workdir = storage.as_path(workdir)
    prepared, protocol = _plan(config)
    folds = prepared.folds[protocol]
    names = [fold["name"] for fold in folds]
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise ConfigError(f"unknown fold(s) {unknown} of {prepared.corpus}/{protocol}; folds: {names}")
    untested = _untested_units(folds)
    todo = [] if aggregate_only else [name for name in names if not only or name in only]
    for i, name in enumerate(todo, 1):
        fold_dir = workdir / "folds" / name
        if (fold_dir / PREDICTIONS).exists():
            log.info("crossval fold %s (%d/%d): finished, skipped", name, i, len(todo))
            continue
        log.info("crossval fold %s (%d/%d) in %s", name, i, len(todo), fold_dir)
        one = fold_config(config, protocol, name)
        if train_and_evaluate(one, fold_dir) is None:
            log.warning("crossval: fold %s preempted; rerun the same command to resume it", name)
            return None
        _save_test_predictions(one, fold_dir)
    return _aggregate(config, workdir, prepared, protocol, names, untested)


def fold_config(config: ml_collections.ConfigDict, protocol: str, fold: str) -> ml_collections.ConfigDict:
    """A copy of `config` whose one corpus entry runs `protocol`'s fold `fold`; its name ends in the fold."""
    out = config.copy_and_resolve_references()
    out.data.corpora = [{**dict(config.data.corpora[0]), "protocol": protocol, "fold": fold}]
    out.name = f"{config.name}-{fold}"
    return out


def _plan(config: ml_collections.ConfigDict) -> tuple[PreparedDataset, str]:
    """The prepared corpus and the protocol to cross-validate (see the module docstring)."""
    if len(config.data.corpora) != 1:
        raise ConfigError(f"crossval runs the folds of ONE corpus; config.data.corpora has "
                          f"{[entry['name'] for entry in config.data.corpora]}")
    prepare_or_refuse(config.data)  # multi-host: refused, on every process, unless already prepared
    entry = config.data.corpora[0]
    prepared = open_entry(config.data, entry)
    requested = entry.get("protocol")
    if requested is not None:
        if requested not in prepared.folds:
            raise ConfigError(f"{prepared.corpus} has no protocol {requested!r}; prepared: {sorted(prepared.folds)}")
        return prepared, requested
    spec_order = [p.name for p in registry.get(prepared.corpus).protocols if p.name in prepared.folds]
    several = [name for name in spec_order if len(prepared.folds[name]) > 1]
    if not several:
        raise ConfigError(f"{prepared.corpus}: no protocol of this copy has more than one fold "
                          f"({ {name: len(prepared.folds[name]) for name in spec_order} })")
    return prepared, several[0]


def _untested_units(folds: list[dict]) -> list[str]:
    """Units no fold tests; ValueError naming a unit two folds test (pooling would count it twice)."""
    tested = collections.Counter(unit for fold in folds for unit in fold["units"]["test"])
    twice = sorted(unit for unit, n in tested.items() if n > 1)
    if twice:
        raise ValueError(f"units {twice} are tested by more than one fold: the pooled test set would repeat them")
    every = {unit for fold in folds for part in protocols.PARTS for unit in fold["units"][part]}
    return sorted(every - set(tested))


def _save_test_predictions(config: ml_collections.ConfigDict, fold_dir: storage.AnyPath) -> None:
    """Scores the fold's best checkpoint (by validation) on its test split and stores the predictions."""
    restored = evaluate_lib.restore_for_eval(config, fold_dir, "best")
    restored.eval_step.precompile(compile_ahead.bucket_shapes(config.data.batch_size, restored.spec.buckets,
                                                                 restored.spec.layout))
    batches, records = pipeline.make_eval_iterator(config.data, "test", restored.mesh)
    _, predictions = evaluate(restored.eval_step, restored.state, batches, records,
                              categories=restored.spec.categories, desc="test")
    if jax.process_index() == 0:
        save_predictions(fold_dir / PREDICTIONS, predictions, restored.spec.categories)


def _aggregate(config: ml_collections.ConfigDict, workdir: storage.AnyPath, prepared: PreparedDataset, protocol: str,
               names: list[str], untested: list[str]) -> dict[str, Any]:
    """Pools the finished folds' test predictions and writes the report (process 0)."""
    finished = [name for name in names if (workdir / "folds" / name / PREDICTIONS).exists()]
    missing = [name for name in names if name not in finished]
    if not finished:
        raise ConfigError(f"crossval: no fold of {prepared.corpus}/{protocol} has finished in {workdir}; "
                          f"run --mode crossval without --aggregate_only (folds: {names})")
    loaded = {name: load_predictions(workdir / "folds" / name / PREDICTIONS) for name in finished}
    label_sets = {categories for _, categories in loaded.values()}
    if len(label_sets) != 1:
        raise ValueError(f"crossval: the folds were trained on different label sets {sorted(label_sets)}")
    categories = label_sets.pop()
    result = crossval_report.aggregate({name: pred for name, (pred, _) in loaded.items()}, categories)
    spec_protocol = {p.name: p for p in registry.get(prepared.corpus).protocols}[protocol]
    validation = protocols.validation_note(spec_protocol, prepared.units)
    result = {"corpus": prepared.corpus, "protocol": protocol, "folds_finished": finished, "folds_missing": missing,
              "units_never_tested": untested, "validation": validation, "categories": list(categories), **result}
    if jax.process_index() == 0:
        notes = [f"corpus {prepared.corpus}, protocol {protocol}: {len(finished)} of {len(names)} folds finished"
                 + (f"; MISSING: {', '.join(missing)} (the numbers below leave them out)" if missing else ""),
                 f"validation: {validation}", f"category classes: {', '.join(categories)}"]
        if untested:
            shown = ", ".join(untested[:10]) + (f" and {len(untested) - 10} more" if len(untested) > 10 else "")
            notes.append(f"units no fold tests (train only, all in crossval.json): {shown}")
        crossval_report.write_crossval_report(workdir, result, title=f"{config.name}: cross-validation", notes=notes)
        log.info("crossval: %d/%d folds aggregated%s; wrote %s", len(finished), len(names),
                 f" (missing {missing})" if missing else "", workdir / "crossval.md")
    return result
