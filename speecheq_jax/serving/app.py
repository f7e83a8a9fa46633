"""The web service over an export directory (FastAPI): `POST /predict`, and one page at `GET /`.

`POST /predict` takes the audio as multipart field `file` and answers the
record the predictors write (`record.py`); `?timeline=1` adds the timeline
PNG as base64 (`timeline_png`). Bad input is a 4xx with `{"error": one line}`:

| status | when |
|---|---|
| 400 | no `file` field, or an empty file |
| 413 | more than `max_bytes` (refused from Content-Length before the body is read when the client sends it), or longer than `max_seconds` |
| 415 | not audio libsndfile can decode |
| 422 | audio shorter than the model's `min_seconds` |

Predictions run one at a time (a lock): the model uses every core, and
concurrent requests queue rather than fight for them. `GET /` is `page.html`:
upload or record (MediaRecorder, converted to 16 kHz WAV in the browser),
then the summary, the segments and the timeline. `?example=NAME` on the page
predicts `/examples/NAME` at once (the files of `examples_dir`, if given): a
demonstration, and how the page is tested in headless Chromium.
"""

from __future__ import annotations

import base64
import importlib.resources
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import fastapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from speecheq_jax.serving import timeline
from speecheq_jax.serving.audio_source import AudioSource
from speecheq_jax.serving.onnx_model import OnnxModel
from speecheq_jax.serving.recording import RecordingPredictor

_PAGE = importlib.resources.files("speecheq_jax.serving").joinpath("page.html")
_CHUNK = 1 << 20


class _Refused(Exception):
    """Bad input: answered with its status and one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _save_upload(upload: fastapi.UploadFile, directory: str, max_bytes: int) -> Path:
    """Copies the upload into `directory` in chunks, refusing it once it passes `max_bytes`."""
    path = Path(directory) / ("upload" + Path(upload.filename or "").suffix.lower())
    size = 0
    with open(path, "wb") as out:
        while chunk := upload.file.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise _Refused(413, f"upload larger than {max_bytes / 1e6:g} MB")
            out.write(chunk)
    if size == 0:
        raise _Refused(400, "empty file")
    return path


def create_app(model_dir: str | Path, *, max_bytes: int = 50_000_000, max_seconds: float = 600.0,
               cap: int = 8, examples_dir: str | Path | None = None) -> fastapi.FastAPI:
    """The service over one export directory (loaded once, shared by every request)."""
    model = OnnxModel(model_dir)
    predictor = RecordingPredictor(model, model.card, cap=cap)
    lock = threading.Lock()
    app = fastapi.FastAPI(title="speecheq_jax", docs_url=None, redoc_url=None)
    if examples_dir is not None:
        app.mount("/examples", StaticFiles(directory=examples_dir), name="examples")

    @app.middleware("http")
    async def refuse_large_bodies(request: fastapi.Request, call_next):
        length = request.headers.get("content-length", "")
        if request.url.path == "/predict" and length.isdigit() and int(length) > max_bytes + _CHUNK:
            return _error(413, f"upload larger than {max_bytes / 1e6:g} MB")
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return _PAGE.read_text(encoding="utf-8")

    @app.post("/predict")
    def predict(file: fastapi.UploadFile | None = None, timeline_png: bool = fastapi.Query(False, alias="timeline")):
        if file is None:
            return _error(400, "no multipart field 'file' with the audio")
        directory = tempfile.mkdtemp(prefix="speecheq_upload_")
        try:
            path = _save_upload(file, directory, max_bytes)
            record = _predict(path, file.filename or path.name)
        except _Refused as e:
            return _error(e.status, str(e))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if timeline_png:
            record["timeline_png"] = base64.b64encode(timeline.render(record)).decode("ascii")
        return record

    def _predict(path: Path, name: str) -> dict[str, Any]:
        try:
            seconds = AudioSource(path).seconds
        except ValueError:
            raise _Refused(415, f"{name}: not audio (libsndfile cannot decode it)") from None
        if seconds > max_seconds:
            raise _Refused(413, f"{name}: {seconds:.1f} s of audio; at most {max_seconds:g} s")
        with lock:
            (record,) = predictor.predict([path])
        if "error" in record:
            raise _Refused(422, record["error"].replace(str(path), name))
        return {**record, "path": name}

    return app

