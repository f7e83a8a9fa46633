"""The Grain input pipeline: prepared datasets -> Batches of global jax.Arrays.

Batches are planned on INDEXES first, from the record lengths stored in each
dataset's metadata (no record is read to plan): which records, in which order,
padded to which bucket. Every process computes the same global plan and reads
only its own rows, so all processes agree on each batch's shape (a
requirement of `jax.make_array_from_process_local_data`) and each example is
read by exactly one process.

Training (`make_train_iterator`): per epoch (a pure function of seed and
epoch) each corpus contributes `round(N * w_c / sum(w))` examples (N = all
kept training examples; a corpus with weight above its share is re-drawn in
new permutations), the mix is shuffled, sorted inside windows of
`shuffle_window` and cut into global batches (`buckets.windowed_batches`).
Examples longer than the largest bucket are dropped and counted. Phoneme
labels that CTC cannot align in their example's encoder frames
(`buckets.ctc_alignable`) are masked (phoneme_mask False), counted and logged. A
`grain.MapDataset` over batch numbers reads, pads, normalises (CMVN of the
corpus's training units) and augments (SpecAugment, seeded per batch) in
threads; the returned Grain iterator's `get_state()/set_state()` (or
`grain.checkpoint.CheckpointSave(item=iterator)` with Orbax) resume exactly.

Evaluation (`make_eval_iterator`): every record of the split exactly once,
sorted by length, the last batch padded with examples whose `example_mask` and
label masks are False; buckets are extended rather than dropping anything.
`index` points into the returned host-side table (id, corpus, speaker, ...).

Phoneme ids of all corpora are remapped onto ONE run vocabulary: the sorted
union of the datasets' vocabularies, ids 1..V, 0 the CTC blank. Category ids
are remapped the same way onto the run's label set (`DataSpec.categories`:
the classes the run's corpora hold after the label options, in taxonomy
order): a Batch's `category` is an index into it, never a taxonomy id.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator, Sequence

import grain
import jax
import ml_collections
import numpy as np
import tensorflow_datasets as tfds
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from speecheq_jax import labels
from speecheq_jax.data import batch as batch_lib
from speecheq_jax.data import buckets as buckets_lib
from speecheq_jax.data import features
from speecheq_jax.data.augment import SpecAugmentConfig, spec_augment
from speecheq_jax.data.corpora.folds import SpeakerLeakError
from speecheq_jax.data.prepare import PreparedDataset, open_prepared
from speecheq_jax.data.corpora import registry

log = logging.getLogger(__name__)
Batch = dict[str, np.ndarray]
_EPOCHS_AHEAD = 1 << 30
"""Training is endless: the batch-number source is this many epochs long."""


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What the model, losses and prediction need to know about the data.

    Attributes:
      vocab: run phoneme vocabulary; token vocab[i] has id i + 1 (0 = blank).
      categories: the run's category label set (`labels.run_label_set`):
        Batch category id i is categories[i]; the category head has
        len(categories) outputs, and metrics, reports and predictions list
        exactly these classes.
      corpora: corpus names in config order (Batch `corpus_id` indexes this).
      cmvn: corpus -> (mean [80], std [80]) applied to its log-mels.
      pooled_cmvn: (mean, std) over all corpora's training units, for raw audio.
      buckets: frame lengths of the batch shapes.
      label_summary: corpus -> {mapping, excluded, category_counts} applied at
        preparation: what a run's labels mean, logged with every run.
    """

    vocab: tuple[str, ...]
    categories: tuple[str, ...]
    corpora: tuple[str, ...]
    cmvn: dict[str, tuple[np.ndarray, np.ndarray]]
    pooled_cmvn: tuple[np.ndarray, np.ndarray]
    buckets: tuple[int, ...]
    label_summary: dict[str, dict]


class _Corpus:
    """One configured corpus: its prepared dataset, fold, CMVN and record access."""

    def __init__(self, corpus_id: int, prepared: PreparedDataset, fold: dict, run_vocab: Sequence[str],
                 run_categories: Sequence[str]):
        self.corpus_id = corpus_id
        self.prepared = prepared
        self.fold = fold
        self.run_vocab, self.run_categories = tuple(run_vocab), tuple(run_categories)
        run_ids = {token: i + 1 for i, token in enumerate(run_vocab)}
        self.phoneme_table = np.array([0] + [run_ids[t] for t in prepared.vocab], dtype=np.int32)
        # Taxonomy id -> run label-set id (-1: a class this run does not have, masked).
        self.category_table = np.array([run_categories.index(c) if c in run_categories else labels.MISSING
                                        for c in labels.CATEGORIES], dtype=np.int32)
        self.mean = np.asarray(fold["cmvn"]["mean"], np.float32)
        self.std = np.asarray(fold["cmvn"]["std"], np.float32)

    @functools.cached_property
    def sources(self) -> dict[str, Sequence[dict]]:
        return tfds.builder_from_directory(str(self.prepared.path)).as_data_source()

    def read(self, unit: str, index: int) -> dict:
        """One record, checked; a ValueError names the dataset, split and index if it is bad."""
        where = f"{self.prepared.path} split {unit!r} record {index}"
        try:
            record = self.sources[unit][index]
        except Exception as e:  # noqa: BLE001: any decode failure means a corrupt record
            raise ValueError(f"corrupt record: {where}: {type(e).__name__}: {e}") from e
        expected = self.prepared.units[unit]["num_frames"][index]
        logmel = record["logmel"]
        if logmel.shape != (expected, features.NUM_MELS) or int(record["num_frames"]) != expected:
            raise ValueError(f"corrupt record: {where}: logmel {logmel.shape}, num_frames "
                             f"{record['num_frames']}, metadata says {expected} frames")
        return record


@dataclasses.dataclass(frozen=True)
class _Entries:
    """Flat index of examples: parallel int arrays [N] and the unit names they refer to."""

    corpus: np.ndarray
    unit: np.ndarray
    record: np.ndarray
    frames: np.ndarray
    phonemes: np.ndarray
    unit_names: tuple[str, ...]

    def take(self, keep: np.ndarray) -> _Entries:
        return dataclasses.replace(self, corpus=self.corpus[keep], unit=self.unit[keep], record=self.record[keep],
                                   frames=self.frames[keep], phonemes=self.phonemes[keep])


def check_fold(dataset: PreparedDataset, fold: dict, *, allow_speaker_dependent: bool = False) -> None:
    """Asserts that a fold's train, valid and test share no speaker (or no unit).

    Raises SpeakerLeakError naming the speakers. A speaker-dependent protocol
    (ESD 'official') is refused unless `allow_speaker_dependent` is set.
    """
    where = f"{dataset.corpus} fold {fold['name']!r}"
    if fold["speaker_dependent"] and not allow_speaker_dependent:
        raise SpeakerLeakError(f"{where} is speaker-DEPENDENT; set config.data.allow_speaker_dependent=True "
                               "to use it knowingly")
    speakers = {split: {s for unit in fold["units"][split] for s in dataset.units[unit]["speaker"]}
                for split in ("train", "valid", "test")}
    units = {split: set(fold["units"][split]) for split in speakers}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        if units[a] & units[b]:
            raise SpeakerLeakError(f"{where}: units {sorted(units[a] & units[b])} are in both {a} and {b}")
        if not fold["speaker_dependent"] and speakers[a] & speakers[b]:
            raise SpeakerLeakError(f"{where}: speakers {sorted(speakers[a] & speakers[b])} are in both {a} and {b}")


def _open_corpora(config: ml_collections.ConfigDict) -> list[_Corpus]:
    if not config.corpora:
        raise ValueError("config.data.corpora is empty: name at least one corpus")
    prepared, folds = [], []
    for i, entry in enumerate(config.corpora):
        name = entry["name"]
        if name not in registry.names():
            raise ValueError(f"config.data.corpora[{i}].name={name!r} is not a known corpus; known: {registry.names()}")
        dataset = open_prepared(name, config.data_dir, entry.get("root"), dict(config.label_options),
                                dict(config.synth))
        fold = dataset.fold(entry.get("protocol"), entry.get("fold"))
        check_fold(dataset, fold, allow_speaker_dependent=config.allow_speaker_dependent)
        prepared.append(dataset)
        folds.append(fold)
    run_vocab = tuple(sorted({token for dataset in prepared for token in dataset.vocab}))
    run_categories = labels.run_label_set([dataset.labels["category_counts"] for dataset in prepared])
    return [_Corpus(i, p, f, run_vocab, run_categories) for i, (p, f) in enumerate(zip(prepared, folds))]


def load_spec(config: ml_collections.ConfigDict) -> DataSpec:
    """The DataSpec of `config.data` (datasets must be prepared)."""
    corpora = _open_corpora(config)
    pooled = features.MelStats()
    for corpus in corpora:
        for unit in corpus.fold["units"]["train"]:
            pooled = pooled.merge(features.MelStats.from_dict(corpus.prepared.units[unit]["cmvn"]))
    return DataSpec(
        vocab=corpora[0].run_vocab,
        categories=corpora[0].run_categories,
        corpora=tuple(c.prepared.corpus for c in corpora),
        cmvn={c.prepared.corpus: (c.mean, c.std) for c in corpora},
        pooled_cmvn=pooled.mean_std(),
        buckets=tuple(sorted(config.buckets)),
        label_summary={c.prepared.corpus: c.prepared.labels for c in corpora},
    )


def _entries(corpora: Sequence[_Corpus], split: str) -> _Entries:
    """Every record of `split` (train/valid/test) of every corpus, in dataset order."""
    cols: dict[str, list] = {"corpus": [], "unit": [], "record": [], "frames": [], "phonemes": []}
    unit_names: list[str] = []
    for corpus in corpora:
        for unit in corpus.fold["units"][split]:
            meta = corpus.prepared.units[unit]
            size = len(meta["num_frames"])
            cols["corpus"].append(np.full(size, corpus.corpus_id))
            cols["unit"].append(np.full(size, len(unit_names)))
            cols["record"].append(np.arange(size))
            cols["frames"].append(np.asarray(meta["num_frames"]))
            cols["phonemes"].append(np.asarray(meta["num_phonemes"]))
            unit_names.append(unit)
    arrays = {k: np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64) for k, v in cols.items()}
    entries = _Entries(arrays["corpus"], arrays["unit"], arrays["record"], arrays["frames"], arrays["phonemes"],
                       tuple(unit_names))
    _report_too_long_phonemes(corpora, entries, split)
    return entries


def _report_too_long_phonemes(corpora: Sequence[_Corpus], entries: _Entries, split: str) -> None:
    """Counts, per corpus, the phoneme labels longer than their encoder frames (known from metadata alone).

    They are masked when read (`_Assembler`), together with the rarer ones
    that only their adjacent repeats make unalignable (logged one by one).
    """
    too_long = entries.phonemes > buckets_lib.encoder_frames(entries.frames)
    for corpus in corpora:
        count = int(np.sum(too_long & (entries.corpus == corpus.corpus_id)))
        if count:
            log.warning("%s %s: %d of %d examples have more phonemes than encoder frames (ceil(frames / %d)): "
                        "CTC cannot align them, their phoneme labels are masked", corpus.prepared.corpus, split,
                        count, int(np.sum(entries.corpus == corpus.corpus_id)), buckets_lib.SUBSAMPLING)


class _Assembler:
    """Reads this process's rows of a planned global batch and pads them into a Batch."""

    def __init__(self, corpora: Sequence[_Corpus], entries: _Entries, batch_size: int, process_index: int,
                 process_count: int, augment: SpecAugmentConfig | None, seed: int):
        if batch_size % process_count:
            raise ValueError(f"batch_size {batch_size} is not divisible by the process count {process_count}")
        self.corpora, self.entries = corpora, entries
        self.local = batch_size // process_count
        self.process_index, self.augment, self.seed = process_index, augment, seed
        self.unaligned: set[int] = set()
        """Entry positions whose phoneme label was masked as unalignable (each logged once)."""

    def __call__(self, plan: tuple[int, int, np.ndarray]) -> Batch:
        """plan = (batch number, bucket frames, positions [B] into entries, -1 = padding)."""
        number, bucket, positions = plan
        rows = positions[self.process_index * self.local : (self.process_index + 1) * self.local]
        out = batch_lib.zeros(self.local, bucket, bucket // buckets_lib.SUBSAMPLING)
        out["index"][:] = -1
        for row, pos in enumerate(rows):
            if pos >= 0:
                self._fill(out, row, int(pos))
        if self.augment is not None:
            first = self.process_index * self.local
            rngs = [np.random.default_rng([self.seed, number, first + row]) for row in range(self.local)]
            spec_augment(out["logmel"], out["frame_mask"].sum(axis=1), self.augment, rngs)
        return out

    def _fill(self, out: Batch, row: int, pos: int) -> None:
        e = self.entries
        corpus = self.corpora[e.corpus[pos]]
        record = corpus.read(e.unit_names[e.unit[pos]], int(e.record[pos]))
        frames = int(record["num_frames"])
        out["logmel"][row, :frames] = (record["logmel"].astype(np.float32) - corpus.mean) / corpus.std
        out["frame_mask"][row, :frames] = True
        category = int(record["category"])
        category = int(corpus.category_table[category]) if category >= 0 else labels.MISSING
        for key, value in (("category", category), ("intensity", record["intensity"]), ("gender", record["gender"])):
            out[key][row] = max(value, 0)
            out[batch_lib.LABEL_MASKS[key]][row] = value >= 0
        phonemes = corpus.phoneme_table[record["phonemes"]]
        if buckets_lib.ctc_alignable(phonemes, frames):
            out["phonemes"][row, : len(phonemes)] = phonemes
            out["phoneme_mask"][row, : len(phonemes)] = True
        elif len(phonemes) and pos not in self.unaligned:
            self.unaligned.add(pos)
            log.info("%s %s record %d: %d phonemes (%d adjacent repeats) cannot be aligned in %d encoder frames: "
                     "phoneme label masked", corpus.prepared.corpus, e.unit_names[e.unit[pos]], int(e.record[pos]),
                     len(phonemes), int(np.sum(phonemes[1:] == phonemes[:-1])),
                     int(buckets_lib.encoder_frames(frames)))
        out["corpus_id"][row] = corpus.corpus_id
        out["example_mask"][row] = True
        out["index"][row] = pos


class _TrainPlan:
    """Random-access global batch plans for endless training: item i is batch i."""

    def __init__(self, entries: _Entries, weights: Sequence[float], num_corpora: int, batch_size: int,
                 buckets: Sequence[int], window: int, seed: int):
        self.entries, self.batch_size, self.buckets, self.window, self.seed = entries, batch_size, buckets, window, seed
        total = len(entries.corpus)
        self.counts = [round(total * w / sum(weights)) for w in weights]
        self.by_corpus = [np.flatnonzero(entries.corpus == c) for c in range(num_corpora)]
        self.batches_per_epoch = sum(self.counts) // batch_size
        if self.batches_per_epoch == 0:
            raise ValueError(f"{total} training examples make no batch of {batch_size}")

    def __len__(self) -> int:
        return self.batches_per_epoch * _EPOCHS_AHEAD

    @functools.lru_cache(maxsize=2)
    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The epoch's batches (positions [B] each): mixed by weight, shuffled, window-sorted."""
        drawn = []
        for c, (members, count) in enumerate(zip(self.by_corpus, self.counts)):
            rng = np.random.default_rng([self.seed, epoch, c])
            rounds = -(-count // len(members)) if len(members) else 0
            drawn.append(np.concatenate([rng.permutation(members) for _ in range(rounds)] or [members])[:count])
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(np.concatenate(drawn))
        return buckets_lib.windowed_batches(order, self.entries.frames, self.batch_size, self.window, rng)

    def __getitem__(self, number: int) -> tuple[int, int, np.ndarray]:
        epoch, offset = divmod(number, self.batches_per_epoch)
        positions = self.epoch(epoch)[offset]
        return number, buckets_lib.bucket_for(int(self.entries.frames[positions].max()), self.buckets), positions


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


def make_train_iterator(config: ml_collections.ConfigDict, mesh: Mesh | None, *, process_index: int | None = None,
                        process_count: int | None = None) -> grain.DatasetIterator:
    """Endless training Batches (global jax.Arrays; host numpy when mesh is None).

    The result is a Grain DatasetIterator: save `get_state()` (or hand it to
    Orbax as `grain.checkpoint.CheckpointSave(item=it)`) and `set_state()` it
    on a fresh iterator to continue with exactly the same batches.
    """
    process_index, process_count = _process(process_index, process_count)
    corpora = _open_corpora(config)
    entries = _entries(corpora, "train")
    largest = max(config.buckets)
    keep = entries.frames <= largest
    for corpus in corpora:
        dropped = int(np.sum(~keep & (entries.corpus == corpus.corpus_id)))
        if dropped:
            print(f"[pipeline] {corpus.prepared.corpus}: dropped {dropped} training examples longer than "
                  f"the largest bucket ({largest} frames)")
    entries = entries.take(keep)
    plan = _TrainPlan(entries, [c["weight"] for c in config.corpora], len(corpora), config.batch_size,
                      tuple(sorted(config.buckets)), config.shuffle_window, config.seed)
    assemble = _Assembler(corpora, entries, config.batch_size, process_index, process_count,
                          SpecAugmentConfig.from_mapping(dict(config.specaugment)), config.seed)
    dataset = grain.MapDataset.source(plan).map(assemble)
    return iter(_to_iter(dataset, config).map(_globalize(mesh)))


def _to_iter(dataset: grain.MapDataset, config: ml_collections.ConfigDict) -> grain.IterDataset:
    """Reads batches ahead in `prefetch` threads, or in `worker_count` processes when > 0."""
    iter_dataset = dataset.to_iter_dataset(grain.ReadOptions(num_threads=max(config.prefetch, 1),
                                                             prefetch_buffer_size=max(config.prefetch, 1)))
    if config.worker_count > 0:
        iter_dataset = iter_dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=config.worker_count))
    return iter_dataset


def make_eval_iterator(config: ml_collections.ConfigDict, split: str, mesh: Mesh | None, *,
                       process_index: int | None = None,
                       process_count: int | None = None) -> tuple[Iterator[Batch], list[dict[str, str]]]:
    """Every example of `split` ("valid" | "test") once, plus the host table `index` points into.

    Returns:
      (iterator of Batches, table): table[i] = {id, corpus, speaker, lang,
      native_label, unit} of the example with `index` i.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"evaluation split must be 'valid' or 'test', got {split!r}")
    process_index, process_count = _process(process_index, process_count)
    corpora = _open_corpora(config)
    entries = _entries(corpora, split)
    table = [_table_row(corpora[c], entries.unit_names[u], r) for c, u, r in
             zip(entries.corpus, entries.unit, entries.record)]
    order = np.argsort(entries.frames, kind="stable")
    batch_size = config.batch_size
    plans = []
    for number, start in enumerate(range(0, len(order), batch_size)):
        positions = np.full(batch_size, -1, np.int64)
        members = order[start : start + batch_size]
        positions[: len(members)] = members
        bucket = buckets_lib.bucket_or_extend(int(entries.frames[members].max()), config.buckets)
        plans.append((number, bucket, positions))
    assemble = _Assembler(corpora, entries, batch_size, process_index, process_count, None, config.seed)
    return map(_globalize(mesh), map(assemble, plans)), table


def _table_row(corpus: _Corpus, unit: str, record: int) -> dict[str, str]:
    meta = corpus.prepared.units[unit]
    return {"id": meta["id"][record], "corpus": corpus.prepared.corpus, "speaker": meta["speaker"][record],
            "lang": meta["lang"][record], "native_label": meta["native_label"][record], "unit": unit}

