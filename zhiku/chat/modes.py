"""One answer in any chat mode: ``llm`` (the model alone), ``kb`` (one or several knowledge
bases), ``file`` (the temporary KB of uploaded files), ``search`` (web search) and ``agent``.

Every mode yields the same thing: text deltas, then the final ``Answer`` (a ``ChatAnswer``
when a model generated it). A turn's options (model, temperature, top_k, strict) override
the settings for that answer only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from zhiku.chat.kb import KBChat
from zhiku.chat.llm import LLMChat
from zhiku.errors import InvalidInput
from zhiku.llm.base import CallControl, ChatModel, Timeouts
from zhiku.schema import Answer

if TYPE_CHECKING:
    from zhiku.app import Zhiku

SEARCH_NOT_CONFIGURED = "search mode is not configured: choose a search engine in the settings (websearch.engine)"


@dataclass
class TurnOptions:
    """How one answer is made (a conversation's settings with the message's overrides applied)."""

    mode: str
    kbs: list[str] = field(default_factory=list)
    temp_kb: str | None = None
    model: str | None = None
    temperature: float | None = None
    top_k: int | None = None
    strict: bool | None = None


class _WithTemperature:
    """A chat model answering with this turn's temperature."""

    def __init__(self, inner: ChatModel, temperature: float) -> None:
        self.inner, self.temperature = inner, temperature

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, messages: Any, *, max_tokens: int | None = None, temperature: float | None = None,
               control: CallControl | None = None) -> Any:
        return self.inner.stream(messages, max_tokens=max_tokens, control=control,
                                 temperature=self.temperature if temperature is None else temperature)


class _GroundingView:
    """The app as KBChat sees it, with ``llm.grounding`` set for one turn."""

    def __init__(self, app: "Zhiku", strict: bool) -> None:
        self._app = app
        llm = app.settings.llm.model_copy(update={"grounding": "strict" if strict else "lenient"})
        self.settings = app.settings.model_copy(update={"llm": llm})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


class TurnKBChat(KBChat):
    """KB chat with a turn's ``strict`` and ``temperature``."""

    def __init__(self, app: "Zhiku", strict: bool | None = None, temperature: float | None = None) -> None:
        super().__init__(app if strict is None else _GroundingView(app, strict))  # type: ignore[arg-type]
        self.temperature = temperature

    def _generate(self, llm: ChatModel, *args: Any) -> Iterator[str | Answer]:
        if self.temperature is not None:
            llm = _WithTemperature(llm, self.temperature)  # type: ignore[assignment]
        return super()._generate(llm, *args)


def check(app: "Zhiku", options: TurnOptions, owner: str) -> None:
    """Fail before anything is stored: unknown mode, KB, temporary KB or model."""
    mode = options.mode
    if mode == "search" and app.settings.websearch.engine == "none":
        raise InvalidInput(SEARCH_NOT_CONFIGURED, mode=mode)
    if mode == "agent":
        raise InvalidInput("agent mode is not available yet", mode=mode)
    if mode == "kb":
        if not options.kbs:
            raise InvalidInput("kb mode needs at least one knowledge base (kbs)")
        app._kbs(options.kbs)
    elif mode == "file":
        if not options.temp_kb:
            raise InvalidInput("file mode needs the id of uploaded files (temp_kb, from POST /api/chat/files)")
        app.temp_kbs.check(options.temp_kb, owner)
    elif mode == "llm":
        LLMChat(app).model_name(options.model)
    elif mode != "search":
        raise InvalidInput(f"unknown chat mode '{mode}' (llm, kb, file, search or agent)", mode=mode)
    if options.model:
        app.chat_models.config(options.model)


def answer_stream(
    app: "Zhiku", options: TurnOptions, question: str, history: Sequence[Any] | None, owner: str,
    control: CallControl | None = None,
) -> Iterator[str | Answer]:
    """Text deltas, then the final Answer. Closing the iterator (or ``control.cancel``) stops it."""
    check(app, options, owner)
    if options.mode == "llm":
        return LLMChat(app).stream(question, history, options.model, options.temperature, control)
    if options.mode == "search":
        return app.chat_web(question, history, options.model, stream=True, control=control)
    if options.mode == "kb":
        kbs = options.kbs
    else:  # files uploaded a moment ago may still be read: wait for them (a stop ends the wait)
        cancelled = control.cancel.is_set if control is not None else None
        kbs = [app.temp_kbs.kb_name(options.temp_kb or "", owner, touch=True,
                                    wait_s=app.settings.chat.file_wait_s, cancelled=cancelled)]
    chat = TurnKBChat(app, options.strict, options.temperature)
    return chat.stream(kbs, question, history, options.model, options.top_k, None, control)


def timeouts_for(app: "Zhiku", options: TurnOptions) -> Timeouts:
    """The timeouts of the model that will answer (the settings' when none or unknown)."""

    llm = app.settings.llm
    fallback = Timeouts(llm.connect_timeout_s, llm.read_timeout_s, llm.total_timeout_s)
    name = options.model or app.chat_models.default_name()
    if name is None:
        return fallback
    try:
        return getattr(app.chat_models.get(name), "timeouts", None) or fallback
    except Exception:  # the answer itself reports why the model cannot be used
        return fallback


def model_of(app: "Zhiku", options: TurnOptions, answer: Answer | None = None) -> str:
    """The name of what answered: a chat model, or ``extractive``."""
    if answer is not None:
        return getattr(answer, "model", None) or ("extractive" if answer.mode == "extractive" else "")
    name = options.model or app.chat_models.default_name()
    return name or "extractive"


def turn_options(mode: str, settings: dict[str, Any], overrides: dict[str, Any]) -> TurnOptions:
    """A conversation's settings with one message's overrides (the ones not None) applied."""
    merged = {**settings, **{k: v for k, v in overrides.items() if v is not None}}
    return TurnOptions(
        mode=merged.get("mode") or mode, kbs=list(merged.get("kbs") or []), temp_kb=merged.get("temp_kb"),
        model=merged.get("model"), temperature=merged.get("temperature"), top_k=merged.get("top_k"),
        strict=merged.get("strict"))
