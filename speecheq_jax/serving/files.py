"""Prediction of files on disk: the inputs a user names, the JSON lines written, the timelines drawn.

Shared by `--mode predict` (JAX) and `python -m speecheq_jax.predict`
(onnxruntime): both build a `RecordingPredictor` over their runtime and call
`predict_files`. Records are written as they come, so a long run shows its
progress file by file and holds no more than the files not yet finished.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from speecheq_jax import storage
from speecheq_jax.features.audio_file import expand_inputs
from speecheq_jax.serving import timeline
from speecheq_jax.serving.recording import RecordingPredictor

log = logging.getLogger(__name__)

def write_jsonl(records: Iterable[dict], output: storage.PathLike) -> tuple[storage.AnyPath, int, int]:
    """Writes prediction records as JSON lines as they come (a long run shows its progress per file).

    Returns:
      (output, files predicted, files failed); each failure is logged in its one line.
    """
    output = storage.as_path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    done = failed = 0
    with output.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            if "error" in record:
                failed += 1
                log.error("%s", record["error"])
            else:
                done += 1
                log.info("[%d] %s: %.1f s, %d segment(s)%s", done + failed, record["path"], record["duration"],
                         len(record["segments"]), f" [{', '.join(record['flags'])}]" if record["flags"] else "")
    log.info("wrote %d prediction(s) to %s (%d file(s) failed)", done, output, failed)
    return output, done, failed


def _with_timelines(records: Iterable[dict], out_dir: str | Path) -> Iterator[dict]:
    """The records, each predicted one with the path of its timeline PNG (written into `out_dir`) added."""
    for record in records:
        if "error" not in record:
            record["timeline"] = str(timeline.write(record, out_dir))
        yield record


def predict_files(predictor: RecordingPredictor, inputs: Sequence[str | Path], output: storage.PathLike,
                  timeline_dir: str | Path | None = None) -> tuple[storage.AnyPath, int, int]:
    """Predicts every input file into JSON lines at `output` (and timelines into `timeline_dir`).

    Returns:
      (output, files predicted, files failed).
    Raises:
      FileNotFoundError: no input audio at all.
    """
    paths = expand_inputs(inputs)
    if not paths:
        raise FileNotFoundError(f"no input audio found in {list(map(str, inputs))}")
    log.info("predicting %d file(s)", len(paths))
    records = predictor.predict(paths)
    return write_jsonl(records if timeline_dir is None else _with_timelines(records, timeline_dir), output)
