"""Preparation spread over Apache Beam workers: the same datasets as `prep.prepare`, featurised in parallel.

    python -m speecheq_jax.prep.beam_prepare --corpus seqd_synth --data_dir D --synth '{"num": 2000}' \
        --runner DirectRunner --direct_num_workers 2 --direct_running_mode multi_processing

The flags before the Beam options are `prep.prepare`'s and `--chunk` (utterances per Beam element,
`AUDIO_CHUNK` by default: smaller spreads a small unit over more workers); every other flag is Beam's own
(`PipelineOptions`): `--runner DataflowRunner --project P --region R --temp_location gs://...`,
`--runner FlinkRunner --flink_master host:8081`, `--runner SparkRunner --spark_master_url spark://host:7077`
(docs/howto/scale-out.md). It runs in its own environment, `.venv-prep` from `requirements-prep.txt`:
every apache-beam release requires protobuf < 7, the project's environment pins protobuf 7.

The builder is the corpus's own (`tfds_builder.builder_class`), so the corpus is read, mapped, split
into units and folded exactly as on one machine. TFDS accepts a Beam collection where a split's
generator would be (`_generate_examples`); here each unit's utterances, in chunks of `--chunk`,
are the elements a worker featurises with the same `tfds_builder.featurize_chunk`, keyed by their
index in the unit: TFDS's Beam writer sorts a split by key when shuffling is disabled, so the records
are in the single-machine order. The per-unit tables and CMVN sums, which the single-machine builder
collects while it writes, come out of the workers as a second output, are written as one JSON file per
chunk into the dataset's `incomplete.*` directory, and are read back, merged in chunk order and
removed by the driver once the pipeline has finished (`_process_pipeline_result`), before the folds'
CMVN is computed from them.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
import tensorflow_datasets as tfds
from apache_beam.options.pipeline_options import PipelineOptions
from etils import epath

from speecheq_jax.corpora import registry
from speecheq_jax.corpora.corpus_spec import CorpusSpec
from speecheq_jax.errors import DataError
from speecheq_jax.features import logmel
from speecheq_jax.prep import prepare as prep
from speecheq_jax.prep.tfds_builder import (AUDIO_CHUNK, CorpusBuilder, builder_class, featurize_chunk, table_row,
                                            unit_entry)
from speecheq_jax.utterance import Utterance

TABLES_DIR = "beam_unit_tables"
"""Directory (inside the dataset's `incomplete.*` directory) of the per-chunk tables while the pipeline runs."""


class FeaturizeChunk(beam.DoFn):
    """(unit, start, utterances) -> (start + i, Example) per utterance; the chunk's table and sums as "tables"."""

    def __init__(self, phoneme_ids: dict[str, int]):
        self.phoneme_ids = phoneme_ids

    def process(self, element: tuple[str, int, Sequence[Utterance]]) -> Iterator[Any]:
        unit, start, chunk = element
        stats = logmel.MelStats()
        rows = []
        for offset, (example, mel) in enumerate(featurize_chunk(chunk, self.phoneme_ids)):
            stats.add(mel)
            rows.append(table_row(example))
            yield start + offset, example
        yield beam.pvalue.TaggedOutput("tables", (unit, start, rows, stats.to_dict()))


def write_table(part: tuple[str, int, list[dict], dict], directory: str) -> None:
    """One chunk's table and CMVN sums as `<directory>/<unit>.<start>.json` (a retried chunk rewrites the same)."""
    unit, start, rows, stats = part
    path = epath.Path(directory) / f"{unit}.{start}.json"
    path.write_text(json.dumps({"unit": unit, "start": start, "rows": rows, "cmvn": stats}))


def merge_tables(directory: epath.Path) -> dict[str, dict]:
    """unit -> `unit_entry` (rows in record order, sums merged) from the per-chunk files under `directory`."""
    parts: dict[str, list[dict]] = {}
    for path in directory.glob("*.json"):
        part = json.loads(path.read_text())
        parts.setdefault(part["unit"], []).append(part)
    units = {}
    for unit, chunks in sorted(parts.items()):
        chunks.sort(key=lambda part: part["start"])
        stats = logmel.MelStats()
        for part in chunks:
            stats = stats.merge(logmel.MelStats.from_dict(part["cmvn"]))
        units[unit] = unit_entry([row for part in chunks for row in part["rows"]], stats)
    return units


class BeamUnits:
    """Mixin over a corpus's builder: each unit's split is a Beam collection, featurised by the workers.

    CHUNK utterances make one element (one `featurize_chunk` call on a worker).
    """

    CHUNK: int = AUDIO_CHUNK

    def _split_generators(self, dl_manager: tfds.download.DownloadManager, pipeline: beam.Pipeline) -> dict:
        self._pipeline = pipeline
        self._tables: list[beam.PCollection] = []
        splits = super()._split_generators(dl_manager)
        (self._tables | "tables" >> beam.Flatten()
         | "write tables" >> beam.Map(write_table, directory=str(self._tables_dir())))
        return splits

    def _generate_examples(self, unit: str, utterances: Sequence[Utterance],
                           phoneme_ids: dict[str, int]) -> beam.PCollection:
        chunks = [(unit, start, list(utterances[start : start + self.CHUNK]))
                  for start in range(0, len(utterances), self.CHUNK)]
        out = (self._pipeline | f"{unit} chunks" >> beam.Create(chunks)
               | f"{unit} features" >> beam.ParDo(FeaturizeChunk(phoneme_ids)).with_outputs("tables", main="examples"))
        self._tables.append(out.tables)
        return out.examples

    def _process_pipeline_result(self, pipeline_result: beam.runners.runner.PipelineResult) -> None:
        directory = self._tables_dir()
        self.info.metadata["units"].update(merge_tables(directory))
        directory.rmtree()

    def _tables_dir(self) -> epath.Path:
        directory = epath.Path(self.data_path) / TABLES_DIR
        directory.mkdir(parents=True, exist_ok=True)
        return directory


@functools.cache
def beam_builder_class(spec: CorpusSpec, chunk: int = AUDIO_CHUNK) -> type[CorpusBuilder]:
    """The corpus's `builder_class` with `BeamUnits` over it (same name, so the same dataset directory)."""
    base = builder_class(spec)
    return type(base.__name__, (BeamUnits, base), {"__doc__": base.__doc__, "CHUNK": chunk}, skip_registration=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = prep.arg_parser(__doc__)
    parser.add_argument("--chunk", type=int, default=AUDIO_CHUNK, help="utterances per Beam element")
    args, beam_args = parser.parse_known_args(argv)
    if args.chunk < 1:
        parser.error(f"--chunk must be a positive number of utterances, not {args.chunk}")
    if args.ssl is not None:
        parser.error("--ssl: the Beam path featurises log-mel only; prepare SSL states with python -m "
                     "speecheq_jax.prep.prepare --ssl ...")
    options = PipelineOptions(beam_args)
    try:
        prepared = prep.prepare(args.corpus, args.data_dir, args.root, args.label_options, args.synth,
                                progress=not args.no_progress, strict=args.strict,
                                builder_cls=beam_builder_class(registry.get(args.corpus), args.chunk),
                                download_config=tfds.download.DownloadConfig(beam_options=options))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    prep.report(prepared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
