r"""A small web service over an export directory: upload or record audio, get the predictions.

    python -m speecheq_jax.serve --model runs/demo/export --host 127.0.0.1 --port 8000

`POST /predict` (multipart field `file`) answers the JSON record of
`python -m speecheq_jax.predict`; `GET /` is a page to upload or record audio
and see the predictions and the timeline. Limits: --max_mb per upload,
--max_seconds of audio (4xx JSON answers beyond them). onnxruntime only, like
the ONNX predictor. See speecheq_jax/serving/app.py and
docs/howto/predict-recordings.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn

from speecheq_jax.serving.app import create_app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="an export directory (--mode export)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max_mb", type=float, default=50.0, help="largest upload, in MB")
    parser.add_argument("--max_seconds", type=float, default=600.0, help="longest audio accepted, in seconds")
    parser.add_argument("--batch_size", type=int, default=8, help="most speech windows per batch")
    parser.add_argument("--examples", help="a directory served under /examples/ (the page's ?example=NAME)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        app = create_app(args.model, max_bytes=int(args.max_mb * 1e6), max_seconds=args.max_seconds,
                         cap=args.batch_size, examples_dir=args.examples)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
