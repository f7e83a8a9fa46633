"""Is a saved checkpoint step whole? A list of its files, written once the save is complete.

Orbax commits a step atomically (written under a temporary name, then renamed),
so a crash while saving leaves no half step behind. What it does not notice is
damage AFTER the commit: an array file truncated or deleted (a full disk while
copying, a partial rsync, a user cleaning up), a metadata file gone. Such a
step is listed like any other and fails only deep inside TensorStore when it
is restored. So once a step is on disk, its files and their sizes are listed
in `FILE_LIST` inside it, and `find_damage` compares the step with its list:
a stat per file, no array read. A step saved before the list existed (or one
whose process died between the commit and the list) is checked for the files
every step has.
"""

from __future__ import annotations

import json

from speecheq_jax import storage

FILE_LIST = "speecheq_files.json"
# Files every committed step holds: its metadata, and the train state's tree metadata and OCDBT manifest.
_REQUIRED = ("_CHECKPOINT_METADATA", "state/_METADATA", "state/manifest.ocdbt")


def _sizes(step_dir: storage.AnyPath) -> dict[str, int]:
    """{path relative to `step_dir`: size in bytes} of every file under it, the list itself excepted."""
    return {name: size for name, size in storage.file_sizes(step_dir).items()
            if name.rsplit("/", 1)[-1] != FILE_LIST}


def record(step_dir: storage.PathLike) -> None:
    """Writes the step's file list (atomically: a crash leaves the old state, never half a list)."""
    step_dir = storage.as_path(step_dir)
    storage.write_atomic(step_dir / FILE_LIST, json.dumps(_sizes(step_dir), indent=0, sort_keys=True))


def find_damage(step_dir: storage.PathLike) -> str | None:
    """Why the step under `step_dir` cannot be restored (one phrase, naming a file), or None if whole."""
    step_dir = storage.as_path(step_dir)
    listed = step_dir / FILE_LIST
    if not listed.is_file():
        missing = [name for name in _REQUIRED if not (step_dir / name).is_file()]
        return f"{missing[0]} is missing" if missing else None
    try:
        expected = json.loads(listed.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"its file list {FILE_LIST} is unreadable"
    for name, size in expected.items():
        path = step_dir / name
        if not path.is_file():
            return f"{name} is missing"
        if (found := storage.size(path)) != size:
            return f"{name} has {found} bytes, {size} were written"
    return None
