"""``Zhiku``: the composition root. Settings → database → indexes → models → services.

The CLI, the API and the tests all go through this object; none of them reaches
a store or a model directly. The class is put together from one module per face:

- ``base``: settings → database → catalog → indexes → embedders → ingestor and retriever, built on
  opening; what is built on first use; health; accounts;
- ``kbs``: knowledge bases, their files and chunks, search, maintenance;
- ``jobs``: background ingestion jobs (the server starts them);
- ``chat``: chat models, answers in every mode, conversations, summaries, the agent's tools;
- ``core``: ``Zhiku`` itself (opening and closing).
"""

from zhiku.app.core import Zhiku

__all__ = ["Zhiku"]
