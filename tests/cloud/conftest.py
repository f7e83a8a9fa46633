"""The storage emulator the cloud tests write to: gcp-storage-emulator, in memory, on a free port."""

from __future__ import annotations

import contextlib
import os
import socket

import pytest

from speecheq_jax import storage


def _add_generation_header() -> None:
    """Makes the emulator's media downloads carry `x-goog-generation`, as GCS's do.

    gcp-storage-emulator 2026.7.19 leaves that header out; tensorstore's gcs driver reads an
    object's generation from it, and OCDBT (Orbax's array store) reads its manifest back before
    each update, so without it the second array of a checkpoint fails with "Malformed
    StorageGeneration". The JSON API route calls the module's `download`; the download endpoint's
    route holds the function itself.
    """
    from gcp_storage_emulator import server
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    download = objects.download
    if getattr(download, "adds_generation", False):
        return

    def with_generation(request, response, storage_, *args, **kwargs):
        download(request, response, storage_, *args, **kwargs)
        with contextlib.suppress(NotFound):
            obj = storage_.get_file_obj(request.params["bucket_name"], request.params["object_id"])
            response["x-goog-generation"] = obj["generation"]

    with_generation.adds_generation = True
    objects.download = with_generation
    for _, methods in server.HANDLERS:
        for method, handler in methods.items():
            if handler is download:
                methods[method] = with_generation


@pytest.fixture(scope="module")
def emulator():
    """gcp-storage-emulator in this process (in memory, bucket "bucket"), stopped at the end."""
    from gcp_storage_emulator.server import create_server

    _add_generation_header()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="bucket")
    server.start()
    host = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("STORAGE_EMULATOR_HOST", "TENSORSTORE_GCS_HTTP_URL")}
    os.environ["STORAGE_EMULATOR_HOST"] = host
    storage.use_emulator()
    yield host
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
