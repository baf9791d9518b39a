"""`zhiku model pull` of ONNX embedders and rerankers (zhiku.llm.pull_onnx) from a local stand-in
hub serving tiny models the tests build (zhiku.testing.tiny_onnx): several files into one folder,
resumed, sha256-checked, then run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("onnx", reason="the tiny test models are built with the onnx package (test extra)")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from zhiku import load_settings  # noqa: E402
from zhiku.embed.onnx import OnnxEmbedder  # noqa: E402
from zhiku.errors import ChecksumMismatch, DownloadFailed, InvalidInput, NotFound  # noqa: E402
from zhiku.llm.pull import MIRRORS  # noqa: E402
from zhiku.llm.pull_onnx import ONNX_CATALOG, OnnxEntry, pull_onnx  # noqa: E402
from zhiku.retrieval.rerank import build_reranker  # noqa: E402
from zhiku.testing.hub_server import HubServer  # noqa: E402
from zhiku.testing.tiny_onnx import build_embedder, build_reranker as build_tiny_reranker  # noqa: E402

GRAPH = "onnx/model_quantized.onnx"
CATALOG = {"tiny-bge": OnnxEntry("test/tiny-bge", GRAPH, "embedder", "a tiny test model", pooling="mean"),
           "tiny-reranker": OnnxEntry("test/tiny-reranker", "onnx/model.onnx", "reranker", "a tiny reranker")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_embedder(tmp_path_factory.mktemp("hub") / "tiny-bge", file=GRAPH)


def test_the_catalog_names_the_models_of_the_issue_per_mirror() -> None:
    assert {"bge-small-zh-v1.5", "gte-base-zh", "bge-m3", "bge-reranker-v2-m3",
            "gte-multilingual-reranker-base"} <= set(ONNX_CATALOG)
    for entry in ONNX_CATALOG.values():
        assert entry.kind in ("embedder", "reranker") and entry.graph.endswith(".onnx")
        assert entry.files[:2] == ("tokenizer.json", "config.json")
        assert (entry.pooling in ("cls", "mean")) == (entry.kind == "embedder")
        for mirror in MIRRORS:
            assert entry.url(mirror, entry.graph).endswith(f"/{entry.graph}")
    entry = ONNX_CATALOG["bge-small-zh-v1.5"]
    assert entry.url("hf-mirror", "tokenizer.json") == \
        "https://hf-mirror.com/Xenova/bge-small-zh-v1.5/resolve/main/tokenizer.json"
    assert entry.url("https://my.mirror/", entry.graph).startswith("https://my.mirror/Xenova/bge-small-zh-v1.5/")
    with pytest.raises(InvalidInput, match="unknown mirror"):
        entry.url("ftp-somewhere", entry.graph)


def test_pull_fetches_every_file_checks_them_and_the_model_runs(home: Path, repo: Path) -> None:
    settings = load_settings(home=home)
    seen: list[tuple[int, int | None]] = []
    with HubServer(repo, "test/tiny-bge") as hub:
        result = pull_onnx(settings, "tiny-bge", mirror=hub.base, progress=lambda d, t: seen.append((d, t)),
                           catalog=CATALOG)
    assert result.path == home / "models" / "onnx" / "tiny-bge" and result.kind == "embedder"
    assert result.fetched == ["tokenizer.json", "config.json", GRAPH] and all(result.verified.values())
    assert result.sha256 == {f: hub.hashes[f] for f in result.fetched}
    assert seen and seen[-1][0] == seen[-1][1]
    manifest = json.loads((result.path / "zhiku-onnx.json").read_text())
    assert manifest["file"] == GRAPH and manifest["pooling"] == "mean" and manifest["sha256"][GRAPH] == hub.hashes[GRAPH]
    emb = OnnxEmbedder(str(result.path))
    assert emb.pooling == "mean" and emb.model_id.endswith(f"{hub.hashes[GRAPH][:12]}:mean:512")  # the pulled hash
    assert "type: onnx" in result.settings_hint() and str(result.path) in result.settings_hint()
    with HubServer(repo, "test/tiny-bge") as hub:  # pulled again: nothing fetched
        again = pull_onnx(settings, "tiny-bge", mirror=hub.base, catalog=CATALOG)
    assert again.fetched == [] and hub.requests == [] and again.sha256 == result.sha256


def test_an_interrupted_pull_resumes_where_it_stopped(home: Path, repo: Path) -> None:
    settings = load_settings(home=home)
    with HubServer(repo, "test/tiny-bge", fault_file=GRAPH, drop_after=20_000) as hub:
        with pytest.raises(DownloadFailed, match="resume"):
            pull_onnx(settings, "tiny-bge", mirror=hub.base, catalog=CATALOG)
        part = home / "models" / "onnx" / "tiny-bge" / (GRAPH + ".part")
        kept = part.stat().st_size
        assert 0 < kept <= 20_000
        assert not (part.parent.parent / "zhiku-onnx.json").exists()  # no manifest for half a model
        result = pull_onnx(settings, "tiny-bge", mirror=hub.base, catalog=CATALOG)
    assert result.fetched == [GRAPH]  # tokenizer.json and config.json were whole already
    assert hub.requests[-1] == (GRAPH, f"bytes={kept}-") and all(result.verified.values())
    assert OnnxEmbedder(str(result.path)).dimensions == 128


def test_a_corrupt_or_unpinned_file_is_refused(home: Path, repo: Path) -> None:
    settings = load_settings(home=home)
    folder = home / "models" / "onnx" / "tiny-bge"
    with HubServer(repo, "test/tiny-bge", fault_file=GRAPH, corrupt=True) as hub:
        with pytest.raises(ChecksumMismatch):
            pull_onnx(settings, "tiny-bge", mirror=hub.base, catalog=CATALOG)
    assert not (folder / GRAPH).exists() and not (folder / (GRAPH + ".part")).exists()
    pinned = {"tiny-bge": OnnxEntry("test/tiny-bge", GRAPH, "embedder", "x", pooling="mean",
                                    sha256={GRAPH: "0" * 64})}
    with HubServer(repo, "test/tiny-bge", advertise=False) as hub:  # the pin holds without a hub's hash
        with pytest.raises(ChecksumMismatch):
            pull_onnx(settings, "tiny-bge", mirror=hub.base, catalog=pinned)
    assert not (folder / GRAPH).exists() and not (folder / "zhiku-onnx.json").exists()
    with pytest.raises(NotFound, match="bge-small-zh-v1.5"):
        pull_onnx(settings, "no-such-model")


def test_a_pulled_reranker_is_used_by_its_folder(home: Path, tmp_path: Path) -> None:
    repo = build_tiny_reranker(tmp_path / "tiny-reranker")
    with HubServer(repo, "test/tiny-reranker") as hub:
        result = pull_onnx(load_settings(home=home), "tiny-reranker", mirror=hub.base, catalog=CATALOG)
    assert result.kind == "reranker" and "rerank: onnx" in result.settings_hint()
    reranker = build_reranker("onnx", model=str(result.path))
    assert reranker is not None
    scores = reranker.scores("jupiter red spot", [], ["refunds paid", "the red spot of jupiter"])
    assert scores[1] > scores[0]


def test_cli_pulls_an_onnx_model_and_lists_the_catalog(cli, repo: Path, home: Path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    listed = cli("model", "catalog")
    assert listed.code == 0 and "bge-reranker-v2-m3" in listed.out and "ONNX embedder" in listed.out
    monkeypatch.setitem(ONNX_CATALOG, "tiny-bge", CATALOG["tiny-bge"])  # a catalog entry the stand-in hub serves
    with HubServer(repo, "test/tiny-bge") as hub:
        refused = cli("model", "pull", "tiny-bge", "--mirror", hub.base, "--sha256", "0" * 64)
        assert refused.code != 0 and "GGUF" in refused.err and hub.requests == []
        result = cli("model", "pull", "tiny-bge", "--mirror", hub.base)
    assert result.code == 0, result.err
    folder = home / "models" / "onnx" / "tiny-bge"
    assert "type: onnx" in result.out and str(folder) in result.out.replace("\n", "")
    assert (folder / "zhiku-onnx.json").is_file() and result.out.count("(verified)") == 3
