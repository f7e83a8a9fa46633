"""The Grain input pipeline: prepared datasets -> Batches of global jax.Arrays (the wiring).

The pieces, one job each: `sources` opens the run's datasets once and turns
records into rows; `entries` indexes a split's examples from metadata;
`buckets` plans batches on those indexes (numpy); `assemble` pads rows into a
Batch (also for prediction); `augment` is SpecAugment. This module wires them
with Grain.

Every process computes the same global plan and reads only its own rows, so
all processes agree on each batch's shape (a requirement of
`jax.make_array_from_process_local_data`) and each example is read by exactly
one process.

Training (`make_train_iterator`): each corpus's kept training examples are a
Grain `shuffle().repeat()` stream (reshuffled every pass over the corpus),
the streams are `MapDataset.mix`ed by the corpora's weights, and the mix is
cut into windows of `shuffle_window` examples (`batch`), each planned into
batches of similar length (`buckets.window_plan`). Examples longer than the
largest bucket are dropped and counted. A batch is read, padded, normalised
and augmented (SpecAugment, seeded by batch number and global row) in Grain's
read threads. Everything is a function of the batch number, so the returned
iterator's `get_state()/set_state()` (or Orbax's
`grain.checkpoint.CheckpointSave(item=iterator)`) resume exactly.

Evaluation (`make_eval_iterator`): every record of the split exactly once,
sorted by length, the last batch padded with examples whose `example_mask` and
label masks are False; buckets are extended rather than dropping anything.
Batches are read and padded ahead in Grain's read threads too. `index`
points into the returned host-side table (id, corpus, speaker, ...).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence

import grain
import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from speecheq_jax.input import buckets
from speecheq_jax.input import entries as entries_lib
from speecheq_jax.input.assemble import assemble
from speecheq_jax.input.augment import SpecAugmentConfig, spec_augment
from speecheq_jax.input.data_spec import DataSpec, describe
from speecheq_jax.input.entries import Entries
from speecheq_jax.input.sources import RunSources, check_fold, open_sources
from speecheq_jax.ssl.route import bucket_sizes

__all__ = ["DataSpec", "check_fold", "load_spec", "make_eval_iterator", "make_train_iterator"]
Batch = dict[str, np.ndarray]


def load_spec(config: ml_collections.ConfigDict) -> DataSpec:
    """The DataSpec of `config.data` (datasets must be prepared)."""
    return describe(open_sources(config), bucket_sizes(config))


class _BatchReader:
    """Reads this process's rows of a planned global batch and assembles them (augmented in training)."""

    def __init__(self, sources: RunSources, entries: Entries, batch_size: int, process_index: int,
                 process_count: int, augment: SpecAugmentConfig | None, seed: int):
        if batch_size % process_count:
            raise ValueError(f"batch_size {batch_size} is not divisible by the process count {process_count}")
        self.sources, self.entries = sources, entries
        self.local = batch_size // process_count
        self.first = process_index * self.local
        self.augment, self.seed = augment, seed

    def __call__(self, number: int, plan: buckets.BatchPlan) -> Batch:
        """Batch `number` of the plan: local rows [B / process_count] padded to `plan.bucket` frames."""
        rows = []
        for position in plan.positions[self.first : self.first + self.local]:
            if position >= 0:
                corpus_id, unit, record = self.entries.locate(int(position))
                rows.append(self.sources.corpora[corpus_id].row(unit, record, int(position)))
        out = assemble(rows, self.local, plan.bucket, self.sources.layout)
        if self.augment is not None:
            # One generator per GLOBAL row: a row's masks do not depend on the process count.
            rngs = [np.random.default_rng([self.seed, number, self.first + row]) for row in range(self.local)]
            spec_augment(out["logmel"], out["frame_mask"].sum(axis=1), self.augment, rngs)
        return out


class _WindowedPlans:
    """Random-access training plans: item n is batch n of an endless stream of planned windows.

    A window's plan (sorting, cutting, batch order) is computed once for the
    batches it holds; the batch order is seeded by the window's number.
    """

    def __init__(self, windows: grain.MapDataset, frames: np.ndarray, batch_size: int, bucket_sizes: Sequence[int],
                 seed: int):
        """windows: int [W] position arrays (W a multiple of batch_size); frames: int [N] per position."""
        self.windows, self.frames, self.batch_size, self.seed = windows, frames, batch_size, seed
        self.bucket_sizes = tuple(bucket_sizes)
        self.per_window = len(windows[0]) // batch_size

    def __len__(self) -> int:
        return sys.maxsize

    @functools.lru_cache(maxsize=4)
    def window(self, number: int) -> list[buckets.BatchPlan]:
        """The W // batch_size plans of window `number`, in their (seeded) batch order."""
        rng = np.random.default_rng([self.seed, number])
        return buckets.window_plan(self.windows[number], self.frames, self.batch_size, self.bucket_sizes, rng)

    def __getitem__(self, number: int) -> buckets.BatchPlan:
        window, offset = divmod(number, self.per_window)
        return self.window(window)[offset]


def _example_stream(entries: Entries, weights: Sequence[float], names: Sequence[str], seed: int) -> grain.MapDataset:
    """Endless stream of entry positions: each corpus shuffled and repeated, mixed by weight."""
    streams = []
    for corpus_id, (name, weight) in enumerate(zip(names, weights, strict=True)):
        members = np.flatnonzero(entries.corpus == corpus_id)
        if not len(members) or weight <= 0:
            raise ValueError(f"corpus {name!r} cannot be mixed: {len(members)} training examples within the largest "
                             f"bucket, weight {weight} (both must be positive)")
        corpus_seed = int(np.random.SeedSequence([seed, corpus_id]).generate_state(1)[0])
        streams.append(grain.MapDataset.source(members).shuffle(seed=corpus_seed).repeat())
    return grain.MapDataset.mix(streams, list(weights))


def make_train_iterator(config: ml_collections.ConfigDict, mesh: Mesh | None, *, process_index: int | None = None,
                        process_count: int | None = None) -> grain.DatasetIterator:
    """Endless training Batches (global jax.Arrays; host numpy when mesh is None).

    The result is a Grain DatasetIterator: save `get_state()` (or hand it to
    Orbax as `grain.checkpoint.CheckpointSave(item=it)`) and `set_state()` it
    on a fresh iterator to continue with exactly the same batches.
    """
    process_index, process_count = _process(process_index, process_count)
    sources = open_sources(config)
    entries = entries_lib.split_entries(sources.units("train"))
    entries_lib.report_too_many_phonemes(entries, sources.names, "train", sources.layout.route)
    entries = entries_lib.drop_longer_than(entries, max(bucket_sizes(config)), sources.names)
    stream = _example_stream(entries, [c["weight"] for c in config.corpora], sources.names, config.seed)
    window = max(config.shuffle_window // config.batch_size, 1) * config.batch_size
    plans = _WindowedPlans(stream.batch(window), entries.frames, config.batch_size, bucket_sizes(config),
                           config.seed)
    # SpecAugment masks log-mel bins and frames; the SSL routes train on their states (waveforms) unaugmented.
    augment = SpecAugmentConfig.from_mapping(dict(config.specaugment)) if sources.layout.route.key == "logmel" else None
    read = _BatchReader(sources, entries, config.batch_size, process_index, process_count, augment, config.seed)
    dataset = grain.MapDataset.source(plans).map_with_index(read)
    iter_dataset = dataset.to_iter_dataset(_read_options(config))
    if config.worker_count > 0:
        iter_dataset = iter_dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=config.worker_count))
    return iter(iter_dataset.map(_globalize(mesh)))


def make_eval_iterator(config: ml_collections.ConfigDict, split: str, mesh: Mesh | None, *,
                       process_index: int | None = None,
                       process_count: int | None = None) -> tuple[Iterator[Batch], list[dict[str, str]]]:
    """Every example of `split` ("valid" | "test") once, plus the host table `index` points into.

    Returns:
      (iterator of Batches, read ahead in `prefetch` threads; table): table[i]
      = {id, corpus, speaker, lang, native_label, unit} of the example with `index` i.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"evaluation split must be 'valid' or 'test', got {split!r}")
    process_index, process_count = _process(process_index, process_count)
    sources = open_sources(config)
    entries = entries_lib.split_entries(sources.units(split))
    entries_lib.report_too_many_phonemes(entries, sources.names, split, sources.layout.route)
    table = [_table_row(sources, *entries.locate(position)) for position in range(len(entries))]
    plans = buckets.eval_plan(entries.frames, config.batch_size, bucket_sizes(config))
    read = _BatchReader(sources, entries, config.batch_size, process_index, process_count, None, config.seed)
    batches = grain.MapDataset.source(plans).map_with_index(read).to_iter_dataset(_read_options(config))
    return iter(batches.map(_globalize(mesh))), table


def _read_options(config: ml_collections.ConfigDict) -> grain.ReadOptions:
    """Batches are read ahead in `prefetch` threads (at least one)."""
    ahead = max(config.prefetch, 1)
    return grain.ReadOptions(num_threads=ahead, prefetch_buffer_size=ahead)


def _globalize(mesh: Mesh | None) -> Callable[[Batch], dict]:
    """Local numpy Batch -> Batch of global jax.Arrays sharded on the mesh's "data" axis (identity without mesh)."""
    if mesh is None:
        return lambda local: local
    sharding = NamedSharding(mesh, PartitionSpec("data"))

    def to_global(local: Batch) -> dict[str, jax.Array]:
        return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}

    return to_global


def _process(process_index: int | None, process_count: int | None) -> tuple[int, int]:
    return (jax.process_index() if process_index is None else process_index,
            jax.process_count() if process_count is None else process_count)


def _table_row(sources: RunSources, corpus_id: int, unit: str, record: int) -> dict[str, str]:
    corpus = sources.corpora[corpus_id]
    meta = corpus.prepared.units[unit]
    return {"id": meta["id"][record], "corpus": corpus.prepared.corpus, "speaker": meta["speaker"][record],
            "lang": meta["lang"][record], "native_label": meta["native_label"][record], "unit": unit}
