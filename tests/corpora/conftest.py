"""Corpus trees built once per test module (they are read-only for most tests)."""

import pytest

from tests.corpora import fixtures


@pytest.fixture(scope="module")
def iemocap_root(tmp_path_factory):
    return fixtures.make_iemocap(tmp_path_factory.mktemp("iemocap"))


@pytest.fixture(scope="module")
def casia_root(tmp_path_factory):
    return fixtures.make_casia(tmp_path_factory.mktemp("casia"))


@pytest.fixture(scope="module")
def esd_root(tmp_path_factory):
    return fixtures.make_esd(tmp_path_factory.mktemp("esd"))


@pytest.fixture(scope="module")
def ravdess_root(tmp_path_factory):
    return fixtures.make_ravdess(tmp_path_factory.mktemp("ravdess"))


@pytest.fixture(scope="module")
def cremad_root(tmp_path_factory):
    return fixtures.make_cremad(tmp_path_factory.mktemp("cremad"))


@pytest.fixture(scope="module")
def seqd_root(tmp_path_factory):
    return fixtures.make_seqd(tmp_path_factory.mktemp("seqd"))
