"""Token-id input of ``/v1/embeddings``: LangChain's ``OpenAIEmbeddings`` (with its default
``check_embedding_ctx_length=True``) splits texts with tiktoken and sends the token ids, not the
text. zhiku's embedders read text, so the ids are decoded first — with the encoding they came
from: ``cl100k_base``, which tiktoken picks for every model name it does not know (zhiku's
embedders) and for OpenAI's embedding models.

tiktoken downloads its BPE files at run time; offline, they are only there when a copy was put
in tiktoken's cache. Nothing is fetched here: without the cached file the request is refused
with what to set instead."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from zhiku.errors import InvalidInput

ENCODING = "cl100k_base"
BLOB = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
HOW = ("send text instead: with LangChain, OpenAIEmbeddings(..., check_embedding_ctx_length=False); "
       "or put tiktoken's cl100k_base.tiktoken file in its cache (TIKTOKEN_CACHE_DIR) on the server")


def cache_file() -> Path | None:
    """Where tiktoken keeps the encoding's file (its own rule), or None when caching is off."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        folder = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        folder = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        folder = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not folder:
        return None
    return Path(folder) / hashlib.sha1(BLOB.encode()).hexdigest()


def _encoding() -> Any:
    """tiktoken's cl100k_base when it can be loaded without the network, else why not."""
    try:
        import tiktoken
    except ImportError:
        return "tiktoken is not installed on the server"
    cached = cache_file()
    if cached is None or not cached.is_file():
        return f"tiktoken's {ENCODING} file is not in its cache ({cached or 'caching is off'}) and zhiku never " \
               "downloads it"
    try:
        return tiktoken.get_encoding(ENCODING)
    except Exception as exc:  # a damaged cache file: tiktoken checks its hash
        return f"tiktoken could not load {ENCODING} from its cache: {exc}"


def decode(token_lists: list[list[int]]) -> list[str]:
    """The texts the token ids stand for; a 400 that says what to do when they cannot be read."""
    encoding = _encoding()
    if isinstance(encoding, str):
        raise InvalidInput(f"'input' holds token ids, which zhiku can only read as {ENCODING} text: {encoding}; "
                           f"{HOW}", param="input", code="token_ids_unsupported")
    try:
        return [encoding.decode(ids) for ids in token_lists]
    except Exception as exc:
        raise InvalidInput(f"'input' holds token ids that are not {ENCODING} tokens ({exc})", param="input") from None
