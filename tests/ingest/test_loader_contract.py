"""Built-in loaders pass the loader contract suite a plugin's loader subclasses."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.ingest.loaders.base import LoaderSpec, registered
from zhiku.testing.contracts import LoaderContract


class TestMarkdownLoader(LoaderContract):
    @pytest.fixture
    def spec(self) -> LoaderSpec:
        return registered()["markdown"]

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        path = tmp_path / "leave.md"
        path.write_text("# 年假\n\n年假天数按工龄计算。\n\n## 申请\n\n需要审批。\n", encoding="utf-8")
        return path


class TestCsvLoader(LoaderContract):
    @pytest.fixture
    def spec(self) -> LoaderSpec:
        return registered()["csv"]

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        path = tmp_path / "staff.csv"
        path.write_text("name,days\n张三,15\nLi Si,10\n", encoding="utf-8")
        return path
