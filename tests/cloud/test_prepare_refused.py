"""Preparing a dataset INTO a bucket is refused in one line naming the local prepare and the copy.

array-record 0.8.6 writes local files only (google/array_record#120), so TFDS could not write
the ArrayRecord shards to gs://; the refusal comes before anything is generated or read.
"""

from __future__ import annotations

import pytest

from speecheq_jax.errors import DataError
from speecheq_jax.prep.prepare import prepare

pytestmark = pytest.mark.integration


def test_preparing_into_a_bucket_names_the_local_prepare_and_the_copy(emulator):
    with pytest.raises(DataError) as error:
        prepare("seqd_synth", "gs://bucket/data", synth={"num": 48, "seed": 0}, progress=False)
    message = str(error.value)
    assert "\n" not in message and "array-record cannot write to a bucket" in message
    assert "python -m speecheq_jax.prep.prepare --corpus seqd_synth --data_dir /tmp/speecheq_data" in message
    assert message.endswith("&& gcloud storage cp -r /tmp/speecheq_data/seqd_synth gs://bucket/data/")
