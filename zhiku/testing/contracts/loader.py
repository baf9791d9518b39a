"""The contract of a loader (``zhiku.ingest.loaders.base.LoaderSpec``, kind ``loader``).

Subclass ``LoaderContract`` and provide two fixtures: ``spec`` (the registered ``LoaderSpec``) and
``sample`` (a path to a good file of its format). The suite also checks that ``load_file``, the
entry point ingestion uses, picks this loader by extension through the plugin registry.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.errors import LoadError, UnsupportedFormat
from zhiku.ingest.loaders import LoadedDocument, load_file
from zhiku.ingest.loaders.base import LoaderSpec, registered, spec_for_extension

KINDS = {"text", "heading", "table", "code"}


class LoaderContract:
    @pytest.fixture
    def spec(self) -> LoaderSpec:
        raise NotImplementedError("a subclass provides the loader under test as the spec fixture")

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        raise NotImplementedError("a subclass provides a good file of the loader's format as the sample fixture")

    def test_the_spec_is_well_formed(self, spec: LoaderSpec) -> None:
        assert spec.name and spec.extensions
        for ext in spec.extensions:
            assert ext.startswith(".") and ext == ext.lower()

    def test_it_is_registered_and_picked_by_extension(self, spec: LoaderSpec) -> None:
        assert registered().get(spec.name) == spec
        for ext in spec.extensions:
            assert spec_for_extension(ext.upper()) == spec

    def test_a_good_file_gives_blocks(self, spec: LoaderSpec, sample: Path) -> None:
        doc = spec.load(sample)
        assert isinstance(doc, LoadedDocument) and doc.blocks
        for block in doc.blocks:
            assert isinstance(block.text, str) and block.kind in KINDS
            assert block.page is None or block.page >= 1
        if spec.sniff is not None:
            assert spec.sniff(sample.read_bytes()[:8192])

    def test_load_file_reads_it_with_this_loader(self, spec: LoaderSpec, sample: Path) -> None:
        doc = load_file(sample)
        assert doc.meta["format"] == spec.name and doc.text.strip()

    def test_an_empty_file_is_a_load_error(self, spec: LoaderSpec, tmp_path: Path) -> None:
        empty = tmp_path / f"empty{spec.extensions[0]}"
        empty.write_bytes(b"")
        with pytest.raises(LoadError, match="empty"):
            load_file(empty)

    def test_a_bad_file_is_a_zhiku_error_naming_it(self, spec: LoaderSpec, tmp_path: Path) -> None:
        bad = tmp_path / f"bad{spec.extensions[0]}"
        bad.write_bytes(b"\x00\x01\x02 not this format \xff\xfe" * 64)
        with pytest.raises((LoadError, UnsupportedFormat), match=bad.name):
            load_file(bad)
