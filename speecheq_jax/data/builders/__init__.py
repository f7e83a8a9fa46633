"""TFDS builders, one per corpus, all sharing `base.CorpusBuilder`.

Importing this package registers the builders with TFDS, so the TFDS command
line works too: `tfds build --imports speecheq_jax.data.builders casia
--manual_dir DIR --data_dir DIR --file_format array_record`
(default label options; `python -m speecheq_jax.data.prepare` takes options).
"""

from speecheq_jax.data.builders.base import CorpusBuilder
from speecheq_jax.data.builders.casia import Casia
from speecheq_jax.data.builders.cremad import Cremad
from speecheq_jax.data.builders.esd import Esd
from speecheq_jax.data.builders.iemocap import Iemocap
from speecheq_jax.data.builders.manifest import Manifest
from speecheq_jax.data.builders.ravdess import Ravdess
from speecheq_jax.data.builders.seqd_synth import SeqdSynth

BUILDERS: dict[str, type[CorpusBuilder]] = {
    cls.CORPUS: cls for cls in (Iemocap, Casia, Esd, Ravdess, Cremad, Manifest, SeqdSynth)
}
