"""One client for every OpenAI-compatible chat server (Ollama, vLLM, Xinference, LM Studio,
llama.cpp server, OpenAI, DeepSeek, DashScope, GLM), built on the ``openai`` SDK.

The SDK's own timeouts bound connecting and each silence; the whole-reply deadline and
cancellation are enforced under it, in the HTTP transport, on every chunk of bytes — so a
server that trickles bytes forever is stopped too, and no thread is left behind.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Generator, Iterator, Sequence

from zhiku.errors import (
    BadModelResponse,
    Cancelled,
    ContextTooLong,
    MissingDependency,
    ModelTimeout,
    ModelUnreachable,
    RateLimited,
    ZhikuError,
)
from zhiku.llm.base import CallControl, Delta, Message, ReplyStream, Timeouts, Usage, estimate_tokens
from zhiku.schema import GenerationOptions

try:  # the SDK's HTTP library: httpx2 for openai>=3, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover - depends on the installed SDK
    import httpx as _http  # type: ignore[no-redef]  # one name for whichever of the two the SDK uses

log = logging.getLogger(__name__)

_CONTROL: contextvars.ContextVar[CallControl | None] = contextvars.ContextVar("zhiku_llm_call", default=None)
_CONTEXT_WORDS = ("context length", "context_length", "maximum context", "too many tokens", "prompt is too long",
                  "exceeds the context", "context window")
# servers known to accept stream_options.include_usage (the others get an estimate)
USAGE_PRESETS = {"openai", "deepseek", "dashscope", "vllm", "ollama", "lmstudio"}


class _WatchedStream(_http.SyncByteStream):
    def __init__(self, inner: Any, control: CallControl, model: str) -> None:
        self.inner, self.control, self.model = inner, control, model

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.control.check(self.model)
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _WatchTransport(_http.BaseTransport):
    """Checks the call's deadline and cancel switch before the request and on every chunk."""

    def __init__(self, model: str) -> None:
        self.inner = _http.HTTPTransport(retries=0)
        self.model = model

    def handle_request(self, request: Any) -> Any:
        control = _CONTROL.get()
        if control is None:
            return self.inner.handle_request(request)
        control.check(self.model)
        response = self.inner.handle_request(request)
        return _http.Response(
            status_code=response.status_code, headers=response.headers,
            stream=_WatchedStream(response.stream, control, self.model), extensions=response.extensions,
        )

    def close(self) -> None:
        self.inner.close()


class OpenAICompatModel:
    # passed through as the server's own request fields (a server that cannot honour one says so)
    options = frozenset({"stop", "seed", "response_format", "tools", "tool_choice", "parallel_tool_calls"})

    def __init__(
        self, name: str, base_url: str, model: str, api_key: str | None = None, *, context_window: int = 4096,
        max_tokens: int = 512, temperature: float = 0.2, timeouts: Timeouts = Timeouts(),
        preset: str | None = None,
    ) -> None:
        try:
            import openai
        except ImportError:  # pragma: no cover
            raise MissingDependency("openai", purpose="OpenAI-compatible chat models") from None
        self.name, self.base_url, self.model = name, base_url.rstrip("/"), model
        self.context_window, self.max_tokens, self.temperature = context_window, max_tokens, temperature
        self.timeouts, self.preset = timeouts, preset
        self._openai = openai
        self._http = _http.Client(transport=_WatchTransport(name), timeout=self._timeout(timeouts.total))
        self.client = openai.OpenAI(
            api_key=api_key or "not-needed", base_url=self.base_url, max_retries=0, http_client=self._http,
            timeout=self._timeout(timeouts.total),
        )

    def _timeout(self, remaining: float) -> Any:
        t = self.timeouts
        return _http.Timeout(connect=t.connect, read=max(0.05, min(t.read, remaining)),
                             write=t.connect, pool=t.connect)

    # -- the protocol ------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, temperature: float | None = None,
        control: CallControl | None = None, options: GenerationOptions | None = None,
    ) -> ReplyStream:
        control = control or CallControl(self.timeouts)
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": [_wire(m) for m in messages], "stream": True,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
        }
        if options is not None:
            kwargs.update(options.model_dump(exclude_none=True))
        if self.preset in USAGE_PRESETS:
            kwargs["stream_options"] = {"include_usage": True}
        return self._run(kwargs, control, messages)

    def _run(
        self, kwargs: dict[str, Any], control: CallControl, messages: Sequence[Message]
    ) -> Generator[Delta, None, None]:
        token = _CONTROL.set(control)
        received = False
        stream = None
        try:
            # the SDK sends the request, decodes the SSE events, raises its typed errors and closes the
            # response; each chunk is kept as the JSON the server sent (``cast_to=object``) instead of
            # being built into the SDK's models, which cost ~20x json.loads per chunk
            options: Any = {"timeout": self._timeout(control.remaining()), **_bearer_only(self._openai)}
            stream = self.client.post(
                "/chat/completions", body=kwargs, cast_to=object, stream=True, stream_cls=self._openai.Stream[Any],
                options=options)
            finish: str | None = None
            usage: Usage | None = None
            calls: dict[int, dict[str, Any]] = {}
            for chunk in stream:
                received = True
                if not isinstance(chunk, dict):
                    raise BadModelResponse(f"model '{self.name}' at {self.base_url} sent a reply that could not "
                                           f"be read (a chunk that is not a JSON object: {str(chunk)[:80]})",
                                           model=self.name)
                if (used := chunk.get("usage")) is not None:
                    usage = Usage(used.get("prompt_tokens") or 0, used.get("completion_tokens") or 0)
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta")
                    if delta:
                        if text := delta.get("content"):
                            yield Delta(text=text)
                        for call in delta.get("tool_calls") or ():
                            _add_call_piece(calls, call)
                    finish = choice.get("finish_reason") or finish
            if finish is None:
                raise BadModelResponse(
                    f"the reply of model '{self.name}' ended before it was complete (no finish reason)",
                    model=self.name)
            yield Delta(finish_reason=finish, usage=usage, tool_calls=[calls[i] for i in sorted(calls)] or None)
        except ZhikuError:
            raise
        except Exception as exc:
            raise self._translate(exc, received, control) from None
        finally:
            _CONTROL.reset(token)
            if stream is not None:
                stream.close()

    def _translate(self, exc: Exception, received: bool, control: CallControl) -> ZhikuError:
        o = self._openai
        where = f"model '{self.name}' at {self.base_url}"
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ZhikuError):  # our deadline / cancel, wrapped by the SDK
            return cause
        if control.cancel.is_set():
            return Cancelled(f"the request to model '{self.name}' was cancelled", model=self.name)
        if isinstance(exc, o.APITimeoutError) or isinstance(cause, _http.TimeoutException):
            if isinstance(cause, _http.ConnectTimeout):
                return ModelTimeout(f"could not connect to {where} within {self.timeouts.connect:g} s",
                                    model=self.name, phase="connect", timeout=self.timeouts.connect)
            t = min(self.timeouts.read, self.timeouts.total)
            what = "stopped answering mid-reply" if received else "did not start answering"
            return ModelTimeout(f"{where} {what} (no data for {t:g} s)", model=self.name, phase="read", timeout=t)
        if isinstance(exc, o.APIConnectionError):
            if received:
                return BadModelResponse(f"the reply of {where} broke off mid-stream", model=self.name)
            return ModelUnreachable(f"cannot reach {where}: {_reason(cause or exc)}", model=self.name,
                                    base_url=self.base_url)
        if isinstance(exc, o.RateLimitError):
            retry = exc.response.headers.get("retry-after")
            after = f"; retry after {retry} s" if retry else "; retry later"
            return RateLimited(f"{where} is rate-limiting requests (429){after}", model=self.name,
                               retry_after=retry)
        if isinstance(exc, (o.AuthenticationError, o.PermissionDeniedError)):
            return ModelUnreachable(f"{where} refused the API key ({exc.status_code}); check api_key / api_key_env",
                                    model=self.name, status=exc.status_code)
        if isinstance(exc, o.NotFoundError):
            return ModelUnreachable(f"{where} has no model named '{self.model}' (404)", model=self.name, status=404)
        if isinstance(exc, o.APIStatusError):
            text = _error_text(exc)
            if exc.status_code in (400, 413, 422) and any(w in text.lower() for w in _CONTEXT_WORDS):
                return ContextTooLong(f"the prompt is too long for {where}: {text}", model=self.name)
            return BadModelResponse(f"{where} answered with an error ({exc.status_code}): {text}",
                                    model=self.name, status=exc.status_code)
        if isinstance(exc, o.APIError):
            text = _error_text(exc)
            if any(w in text.lower() for w in _CONTEXT_WORDS):
                return ContextTooLong(f"the prompt is too long for {where}: {text}", model=self.name)
            return BadModelResponse(f"{where} sent an error: {text}", model=self.name)
        log.debug("unexpected error from %s", where, exc_info=exc)
        return BadModelResponse(f"{where} sent a reply that could not be read ({type(exc).__name__}: {exc})",
                                model=self.name)

    def list_models(self, timeout: float | None = None) -> list[str]:
        try:
            page = self.client.models.list(timeout=timeout or self.timeouts.connect)
            return [m.id for m in page.data]
        except Exception as exc:
            raise self._translate(exc, False, CallControl(self.timeouts)) from None

    def ping(self) -> str | None:
        try:
            ids = self.list_models()
        except ZhikuError as exc:
            return exc.message
        if ids and self.model not in ids and len(ids) > 1:
            return f"the server has no model '{self.model}' (it has: {', '.join(ids[:8])})"
        return None

    def close(self) -> None:
        self.client.close()
        self._http.close()


def _wire(message: Message) -> dict[str, Any]:
    """A message as the server takes it: an assistant's tool calls go with ``content: null``
    when it said nothing."""
    out: dict[str, Any] = dict(message)
    if out.get("tool_calls") and not out.get("content"):
        out["content"] = None
    return out


def _bearer_only(openai: Any) -> dict[str, Any]:
    """The request option that sends only the API key, as ``chat.completions.create`` does, where the
    SDK has per-request security options (newer releases; older ones always send the key, and may
    not accept the option: pyproject allows openai>=1.40)."""
    fields = getattr(getattr(getattr(openai, "_models", None), "FinalRequestOptions", None), "model_fields", {})
    return {"security": {"bearer_auth": True}} if "security" in fields else {}


def _add_call_piece(calls: dict[int, dict[str, Any]], piece: dict[str, Any]) -> None:
    """Join a streamed tool call's pieces (its id and name come first, its arguments in parts)."""
    call = calls.setdefault(piece["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if piece.get("id"):
        call["id"] = piece["id"]
    function = piece.get("function")
    if function is not None:
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused (is the server running?)"
    return text[:200]


def _error_text(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        msg = body.get("message") or (body.get("error") or {}).get("message") if isinstance(
            body.get("error", {}), dict) else body.get("error")
        if msg:
            return str(msg)[:300]
    return (getattr(exc, "message", None) or str(exc))[:300]
