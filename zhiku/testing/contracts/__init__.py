"""Contract suites every backend of a kind must pass: plain pytest classes to subclass.

A backend's tests subclass the suite and provide one fixture, the backend under test::

    from zhiku.testing.contracts import VectorIndexContract

    class TestMyIndex(VectorIndexContract):
        @pytest.fixture
        def index_type(self):
            return MyIndex          # what the plugin registers under kind "vector_index"

The suites check what ``zhiku.store.index_protocols`` promises (add, remove, search restricted
to allowed ids, persistence across a restart, concurrent readers beside one writer, a crash in
the middle of a save, empty and huge inputs) and, for embedders and loaders, what
``zhiku.embed.base.Embedder`` and ``zhiku.ingest.loaders.base.LoaderSpec`` promise.
"""

from zhiku.testing.contracts.embedder import EmbedderContract
from zhiku.testing.contracts.lexical_index import LexicalIndexContract
from zhiku.testing.contracts.loader import LoaderContract
from zhiku.testing.contracts.vector_index import VectorIndexContract

__all__ = ["EmbedderContract", "LexicalIndexContract", "LoaderContract", "VectorIndexContract"]
