"""The unified label space: maps (each corpus's, through the registry), options, intensity scales, joint labels."""

import numpy as np
import pytest

from speecheq_jax import labels
from speecheq_jax.corpora import registry
from speecheq_jax.corpora.iemocap import arousal_to_intensity

pytestmark = pytest.mark.unit


def map_category(corpus, native, options=labels.LabelOptions()):
    return registry.get(corpus).labels.map_category(native, options)


def map_intensity(corpus, category, code):
    return registry.get(corpus).labels.map_intensity(category, code)


def test_iemocap_four_class_merges_excited_and_drops_the_rest():
    opts = labels.LabelOptions(label_set=("neutral", "happy", "angry", "sad"))
    assert map_category("iemocap", "exc", opts).category == "happy"
    assert map_category("iemocap", "hap", opts).category == "happy"
    fru = map_category("iemocap", "fru", opts)
    assert (fru.category, fru.action) == (None, "drop")
    sur = map_category("iemocap", "sur", opts)
    assert sur.action == "drop" and "label_set" in sur.reason


def test_options_change_the_map():
    assert map_category("iemocap", "exc", labels.LabelOptions.from_mapping({"iemocap_exc": "drop"})).action == "drop"
    assert map_category("ravdess", "02").category == "neutral"
    assert map_category("ravdess", "02", labels.LabelOptions.from_mapping({"ravdess_calm": "drop"})).action == "drop"
    masked = map_category("cremad", "DIS", labels.LabelOptions(label_set=("angry",), outside="mask"))
    assert (masked.category, masked.action) == (None, "mask")


def test_bad_codes_and_options_are_errors():
    with pytest.raises(ValueError, match="unknown emotion code 'joy'"):
        map_category("iemocap", "joy")
    with pytest.raises(ValueError, match="unknown corpus 'nope'"):
        map_category("nope", "x")
    with pytest.raises(ValueError, match=r"targets \['joy'\] are not in the taxonomy"):
        labels.CorpusLabels(categories={"j": "joy"})
    iemocap = registry.get("iemocap")
    with pytest.raises(ValueError, match=r"label option\(s\) \['labelset'\] do not apply to IEMOCAP"):
        iemocap.resolve_label_options(labels.LabelOptions.from_mapping({"labelset": ["happy"]}), strict=True)
    with pytest.raises(ValueError, match=r"IEMOCAP label option iemocap_exc='keep'; expected one of \('merge', 'drop'\)"):
        iemocap.resolve_label_options(labels.LabelOptions.from_mapping({"iemocap_exc": "keep"}))
    with pytest.raises(ValueError, match="outside"):
        labels.LabelOptions(outside="keep")


def test_a_corpus_fills_in_its_own_options_and_drops_other_corpora_s():
    options = labels.LabelOptions.from_mapping({"label_set": ["happy", "sad"], "ravdess_calm": "drop"})
    resolved = registry.get("iemocap").resolve_label_options(options)
    assert resolved.label_set == ("happy", "sad")
    assert dict(resolved.corpus) == {"iemocap_exc": "merge", "iemocap_arousal": False}
    assert registry.get("casia").resolve_label_options(options).corpus == ()
    assert labels.LabelOptions.from_mapping(resolved.as_dict()) == resolved


def test_intensity_scales():
    assert map_intensity("ravdess", "happy", "01") == 0.5
    assert map_intensity("ravdess", "happy", "02") == 1.0
    assert map_intensity("cremad", "angry", "MD") == pytest.approx(2 / 3)
    assert map_intensity("cremad", "angry", "XX") is None
    assert map_intensity("cremad", "neutral", "XX") == 0.0
    assert map_intensity("casia", "angry", None) is None
    assert arousal_to_intensity(5.0) == 1.0 and arousal_to_intensity(1.0) == 0.0
    with pytest.raises(ValueError, match="intensity code"):
        map_intensity("cremad", "angry", "ZZ")


def test_supported_scales():
    scales = {name: registry.get(name).labels.supported_scales for name in ("seqd_synth", "cremad", "ravdess", "iemocap")}
    assert scales == {"seqd_synth": (1, 2, 3), "cremad": (1, 2, 3), "ravdess": (1, 2), "iemocap": (1,)}
    assert registry.get("iemocap").labels.intensity_levels is None


def test_run_label_set_is_the_union_of_kept_categories_in_taxonomy_order():
    iemocap4 = {"sad": 3, "neutral": 5, "angry": 1, "happy": 2, "(masked)": 4}
    synth = {name: 10 for name in labels.CATEGORIES if name != "disgust"}
    assert labels.run_label_set([iemocap4]) == ("neutral", "happy", "angry", "sad")
    assert labels.run_label_set([synth]) == ("neutral", "happy", "angry", "sad", "surprise", "fear")
    assert labels.run_label_set([{"fear": 0, "sad": 2}, {"disgust": 1}]) == ("sad", "disgust")


def test_joint_labels_bin_levels_and_keep_neutral_single():
    levels = np.array([1 / 3, 2 / 3, 1.0])
    np.testing.assert_array_equal(labels.intensity_bin(levels, 3), [0, 1, 2])
    np.testing.assert_array_equal(labels.intensity_bin(levels, 2), [0, 1, 1])
    np.testing.assert_array_equal(labels.intensity_bin(levels, 1), [0, 0, 0])
    angry = labels.CATEGORY_INDEX["angry"]
    joint = labels.joint_label(np.array([0, 0, angry, angry]), np.array([0.0, 0.9, 1 / 3, 1.0]), 3)
    np.testing.assert_array_equal(joint, [0, 0, angry * 3, angry * 3 + 2])
    np.testing.assert_array_equal(labels.to_native_level(np.array([0.0, 0.4, 0.7, 1.2]), 3), [0, 1, 2, 3])


def test_describe_mapping_names_every_code():
    iemocap = registry.get("iemocap").labels
    desc = iemocap.describe()
    assert set(desc) == set(iemocap.native_codes())
    assert desc["exc"] == "happy" and desc["xxx"].startswith("DROP")
