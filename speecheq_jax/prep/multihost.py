"""Preparation and multi-host runs: one process prepares, a multi-host job only reads.

A TFDS preparation cannot be split across hosts: the builder reads the whole
corpus to make its folds, writes every unit's split into one `incomplete.*`
directory and stores the metadata (units, CMVN sums, folds) of all units in one
`dataset_info.json` when the last split is written, then renames the
directory. Two processes preparing the same dataset would each write a
complete copy and race on the rename; neither could write half. So:

* one process (`jax.process_count() == 1`): the run prepares what is missing,
  as it always has;
* several processes: nothing is prepared. Every process looks for the run's
  datasets, the processes agree (one all-gather), and if any process misses
  one, every process stops at once with ONE line that names the command to
  run first (`python -m speecheq_jax.prep.prepare ...`), instead of N-1 hosts
  idling while one prepares.
"""

from __future__ import annotations

import shlex

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from speecheq_jax.errors import DataError
from speecheq_jax.prep.prepare import entry_options, make_builder, prepare_all, prepare_command


def prepare_commands(data: ml_collections.ConfigDict) -> list[str]:
    """The prepare command of each dataset of `data` that is not prepared in `data.data_dir` (config order)."""
    commands = []
    for entry in data.corpora:
        root, (options, synth) = entry.get("root"), entry_options(data, entry)
        if not make_builder(entry["name"], data.data_dir, root, options, synth).data_path.exists():
            command = prepare_command(entry["name"], data.data_dir, root, options, synth)
            commands.append(command + (" --strict" if data.strict else ""))
    return commands


def prepare_or_refuse(data: ml_collections.ConfigDict) -> None:
    """Prepares the run's datasets on one process; on several, checks them and refuses if any is missing.

    Raises:
      DataError: (several processes) one line naming the prepare command(s) for the missing
        dataset(s), raised on EVERY process, so no process waits for the others.
    """
    if jax.process_count() == 1:
        prepare_all(data)
        return
    commands = prepare_commands(data)
    missing = multihost_utils.process_allgather(np.int32(len(commands)))
    if not missing.any():
        return
    if commands:
        raise DataError(f"a multi-host run ({jax.process_count()} processes) does not prepare data and "
                        f"{len(commands)} dataset(s) are missing in {data.data_dir}; prepare them first, in one "
                        f"process: {' && '.join(commands)}")
    hosts = [int(i) for i in np.flatnonzero(missing)]
    raise DataError(f"a multi-host run does not prepare data and process(es) {hosts} do not see the datasets in "
                    f"{shlex.quote(str(data.data_dir))}; put data_dir on storage every host reads, or prepare it on "
                    "each of those hosts")
