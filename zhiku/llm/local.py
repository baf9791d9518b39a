"""A local GGUF model run in-process by llama.cpp (``pip install 'zhiku[local]'``).

One model instance generates for one caller at a time (llama.cpp contexts are not
thread-safe); the deadline and cancel switch are checked between tokens, and closing
the stream stops the generation at the next token.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Generator, Sequence, cast

from zhiku.errors import ContextTooLong, InvalidInput, LoadError, MissingDependency, ModelTimeout
from zhiku.llm.base import CallControl, Delta, Message, ReplyStream, Timeouts, Usage
from zhiku.schema import GenerationOptions


class LlamaCppModel:
    # llama.cpp's own sampling options; tools and response formats need a chat format it may lack: refused
    options = frozenset({"stop", "seed"})

    def __init__(
        self, name: str, path: str | Path, *, context_window: int = 4096, max_tokens: int = 512,
        temperature: float = 0.2, threads: int = 2, timeouts: Timeouts = Timeouts(), seed: int = 0,
    ) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise MissingDependency("llama-cpp-python", extra="local", purpose="local GGUF models") from None
        path = Path(path)
        if not path.is_file():
            raise InvalidInput(f"model '{name}': no GGUF file at {path} (try `zhiku model pull`)", model=name)
        self.name, self.path = name, path
        self.max_tokens, self.temperature, self.timeouts = max_tokens, temperature, timeouts
        self._lock = threading.Lock()
        try:
            self.llm = llama_cpp.Llama(model_path=str(path), n_ctx=context_window, n_threads=threads,
                                       seed=seed, verbose=False)
        except Exception as exc:
            raise LoadError(f"model '{name}': llama.cpp could not load {path.name}: {exc}", model=name) from None
        self.context_window = int(self.llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def ping(self) -> str | None:
        return None

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, temperature: float | None = None,
        control: CallControl | None = None, options: GenerationOptions | None = None,
    ) -> ReplyStream:
        control = control or CallControl(self.timeouts)
        sampling = options.model_dump(include={"stop", "seed"}, exclude_none=True) if options else {}
        return self._run(list(messages), max_tokens or self.max_tokens,
                         self.temperature if temperature is None else temperature, control, sampling)

    def _run(
        self, messages: list[Any], max_tokens: int, temperature: float, control: CallControl,
        sampling: dict[str, Any],
    ) -> Generator[Delta, None, None]:
        if not self._lock.acquire(timeout=max(0.0, control.remaining())):
            raise ModelTimeout(f"model '{self.name}' stayed busy with another request", model=self.name,
                               phase="queue", timeout=self.timeouts.total)
        gen: Generator[dict[str, Any], None, None] | None = None
        try:
            control.check(self.name)
            prompt_tokens = sum(self.count_tokens(m["content"]) + 4 for m in messages)
            if prompt_tokens >= self.context_window:
                raise ContextTooLong(
                    f"the prompt ({prompt_tokens} tokens) does not fit model '{self.name}' "
                    f"({self.context_window} tokens)", model=self.name)
            max_tokens = max(1, min(max_tokens, self.context_window - prompt_tokens))
            try:
                # stream=True: a generator of chunk dicts (llama_cpp types the call for both forms)
                gen = cast(Generator[dict[str, Any], None, None], self.llm.create_chat_completion(
                    messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True, **sampling))
            except ValueError as exc:
                if "context" in str(exc).lower() or "exceed" in str(exc).lower():
                    raise ContextTooLong(f"the prompt does not fit model '{self.name}': {exc}",
                                         model=self.name) from None
                raise
            finish: str | None = None
            n = 0
            for chunk in gen:
                control.check(self.name)
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content")
                if text:
                    n += 1
                    yield Delta(text=text)
                finish = choice.get("finish_reason") or finish
            yield Delta(finish_reason=finish or "stop", usage=Usage(prompt_tokens, n))
        finally:
            if gen is not None:
                gen.close()  # stops llama.cpp's generation
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            close = getattr(self.llm, "close", None)
            if close:
                close()
