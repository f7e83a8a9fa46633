"""Where a run's files go: a local directory or a bucket (gs://, s3://), through one path type.

`launch/tpu_vm.sh` runs a pod slice whose workers share nothing but a bucket, so a
workdir may be `gs://bucket/run`. pathlib would turn that into a local directory
`./gs:/bucket/run` on every worker. Every writer of the run's outputs goes through
the few helpers here instead: `etils.epath` (what TFDS and Orbax use) opens local
paths with the os module and URLs with fsspec (gcsfs for gs://), and Orbax hands a
gs:// directory straight to tensorstore's gcs driver. Local paths behave exactly as
before: same files, same bytes, written the same way.

Object stores differ from a file system in three ways that the helpers absorb:
an object cannot be appended to (`append_line` rewrites it), there is no rename
(`write_text_atomic` relies on an upload being all-or-nothing; `move_tree`
copies then deletes), and a library that writes only local files (the ONNX
exporter) writes into `staged`, a local directory uploaded when it is complete.
`use_emulator` points every storage client at `STORAGE_EMULATOR_HOST` (tests,
local development).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import tempfile
from collections.abc import Iterator

from etils import epath

PathLike = str | os.PathLike
AnyPath = pathlib.Path | epath.Path
"""What `as_path` returns: pathlib's own Path for a local path (local code sees no change), an epath for a URL."""
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://")


def is_remote(path: PathLike) -> bool:
    """True for a URL (gs://bucket/dir, s3://...), False for a local path."""
    return bool(_URL.match(os.fspath(path)))


def as_path(path: PathLike) -> AnyPath:
    """An epath for a URL; for a local path a pathlib.Path with `~` expanded (relative stays relative)."""
    text = os.fspath(path)
    return epath.Path(text) if is_remote(text) else pathlib.Path(os.path.expanduser(text))


def absolute(path: PathLike) -> epath.Path:
    """An epath, made absolute when local (Orbax wants absolute directories; a URL already is)."""
    return epath.Path(path) if is_remote(path) else epath.Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def size(path: AnyPath) -> int:
    """The file's size in bytes (pathlib says `st_size`, epath `length`)."""
    return path.stat().st_size if isinstance(path, pathlib.Path) else path.stat().length


def write_atomic(path: PathLike, content: str | bytes, partial_suffix: str = ".tmp") -> None:
    """Writes `content` (text as UTF-8) so that a crash leaves the old content or the new, never half.

    Local: a temporary file beside it (name + `partial_suffix`), then `os.replace`. Remote: one
    upload, which an object store makes visible only when complete.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    target = as_path(path)
    if is_remote(target):
        target.write_bytes(data)
        return
    temporary = target.with_name(f"{target.name}{partial_suffix}")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def append_line(path: PathLike, line: str) -> None:
    """Appends `line` + newline. An object cannot be appended to: remotely the object is rewritten."""
    target = as_path(path)
    if not is_remote(target):
        with open(target, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    target.write_text(before + line + "\n", encoding="utf-8")


def file_sizes(directory: PathLike) -> dict[str, int]:
    """{path relative to `directory`: size in bytes} of every file under it, local or remote.

    Walks with `iterdir` (epath refuses a recursive glob on gs://, and its `walk` drops the scheme).
    """
    root = as_path(directory)
    sizes: dict[str, int] = {}
    pending = [root]
    while pending:
        for child in sorted(pending.pop().iterdir()):
            if child.is_dir():
                pending.append(child)
            else:
                sizes[os.fspath(child)[len(os.fspath(root)) + 1:]] = size(child)
    return dict(sorted(sizes.items()))


def copy_tree(source: PathLike, target: PathLike) -> None:
    """Copies every file under `source` to the same relative path under `target` (either may be remote)."""
    source, target = epath.Path(source), epath.Path(target)
    for name in file_sizes(source):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        (source / name).copy(destination, overwrite=True)


def move_tree(source: PathLike, target: PathLike) -> None:
    """Moves a directory: a rename locally; remotely (no rename in an object store) a copy, then a delete."""
    if not is_remote(source):
        os.replace(source, target)
        return
    copy_tree(source, target)
    epath.Path(source).rmtree()


@contextlib.contextmanager
def staged(directory: PathLike) -> Iterator[pathlib.Path]:
    """A local directory to write `directory`'s files into: `directory` itself when local, else a
    temporary one uploaded to `directory` once the block ends without error (nothing half-written
    reaches the bucket)."""
    if not is_remote(directory):
        local = pathlib.Path(os.path.expanduser(os.fspath(directory)))
        local.mkdir(parents=True, exist_ok=True)
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="speecheq_stage_") as local:
        yield pathlib.Path(local)
        copy_tree(local, directory)


def use_emulator() -> None:
    """Points every storage client of a run at `STORAGE_EMULATOR_HOST`, when it is set.

    gcsfs (epath's gs:// backend) and google-cloud-storage read that variable themselves.
    tensorstore (Orbax's arrays) does not: it reads `TENSORSTORE_GCS_HTTP_URL`, and for its
    credentials `GOOGLE_AUTH_TOKEN_FOR_TESTING` (an emulator checks none; without it tensorstore
    looks for application-default credentials and then the GCE metadata server). gcsfs's probe of
    a bucket's type (zonal, hierarchical) goes to a control API an emulator lacks, warning on every
    call: it is turned off.
    """
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return
    url = host if _URL.match(host) else f"http://{host}"
    os.environ.setdefault("TENSORSTORE_GCS_HTTP_URL", url)
    os.environ.setdefault("GOOGLE_AUTH_TOKEN_FOR_TESTING", "emulator")
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
