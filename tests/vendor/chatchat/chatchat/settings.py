"""Stand-in for ``chatchat.settings`` (written for zhiku's tests, not Chatchat's code): the
settings ``webui_pages/utils.py`` reads, with the defaults of Chatchat 0.3.1.3's settings.py."""

from types import SimpleNamespace

Settings = SimpleNamespace(
    basic_settings=SimpleNamespace(HTTPX_DEFAULT_TIMEOUT=300.0, IMG_DIR="img"),
    kb_settings=SimpleNamespace(DEFAULT_VS_TYPE="faiss", CHUNK_SIZE=750, OVERLAP_SIZE=150,
                                VECTOR_SEARCH_TOP_K=3, SCORE_THRESHOLD=2.0, ZH_TITLE_ENHANCE=False),
)
