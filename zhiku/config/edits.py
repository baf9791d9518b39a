"""Settings an admin changes while the server runs (web UI, API, ``zhiku model``): the
OpenAI-compatible model servers, the default chat model and the web-search engine. Each change is
checked, written to the settings file (``zhiku.config.writer``: atomic, comments kept) and applied
to the running settings object, which the model registry and the answer pipeline read on every
question: no restart. API keys are stored in the file and never returned."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zhiku.config import CONFIG_NAME, ChatModelConfig, LLMSettings, Settings, WebSearchSettings
from zhiku.config.writer import edit, section
from zhiku.errors import ConfigError, InvalidInput, NotFound, Unavailable


def settings_file(settings: Settings, environ: Any = None) -> Path:
    """The file these settings were read from: ZHIKU_CONFIG, else HOME/config.yaml."""
    environ = os.environ if environ is None else environ
    named = environ.get("ZHIKU_CONFIG")
    return Path(named) if named else settings.home / CONFIG_NAME


def _problem(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


def put_model_server(settings: Settings, name: str, base_url: str, model: str, api_key: str | None = None,
                     clear_key: bool = False, file: Path | None = None) -> ChatModelConfig:
    """Add or change the chat model ``name`` served by an OpenAI-compatible server at ``base_url``.
    ``api_key`` None keeps the key it had (``clear_key`` drops it)."""
    name, base_url, model = name.strip(), base_url.strip().rstrip("/"), model.strip()
    if not name or len(name) > 100 or any(c in name for c in "\n\r\t/"):
        raise InvalidInput("a model needs a name (one line, up to 100 characters, no '/')", field="name")
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput(f"the server URL must start with http:// or https:// (got '{base_url}')", field="base_url")
    if not model:
        raise InvalidInput("name the model the server should run (e.g. qwen2.5:7b-instruct)", field="model")
    old = settings.llm.models.get(name)
    key = None if clear_key else (api_key if api_key else (old.api_key if old is not None else None))
    try:
        cfg = ChatModelConfig(type="openai", base_url=base_url, model=model, api_key=key)
    except ValidationError as exc:
        raise InvalidInput(f"model '{name}': {_problem(exc)}", field="model") from None

    def change(doc: Any) -> None:
        entry = section(doc, "llm", "models", name)
        entry["type"] = "openai"
        for field in ("preset", "path"):
            entry.pop(field, None)
        entry["base_url"], entry["model"] = base_url, model
        if key:
            entry["api_key"] = key
        else:
            entry.pop("api_key", None)

    edit(file or settings_file(settings), change, lambda data: _check(settings, data))
    settings.llm.models = {**settings.llm.models, name: cfg}
    return cfg


def remove_model_server(settings: Settings, name: str, file: Path | None = None) -> None:
    """Remove the chat model ``name`` from the settings (the default falls back to none when it was it)."""
    if name not in settings.llm.models:
        raise NotFound(f"no configured chat model '{name}' (models pulled or detected are not in the settings)",
                       model=name)

    def change(doc: Any) -> None:
        llm = section(doc, "llm")
        models = llm.get("models")
        if isinstance(models, dict):
            models.pop(name, None)
        if llm.get("default") == name:
            llm["default"] = None

    edit(file or settings_file(settings), change, lambda data: _check(settings, data))
    settings.llm.models = {k: v for k, v in settings.llm.models.items() if k != name}
    if settings.llm.default == name:
        settings.llm.default = None


def set_defaults(settings: Settings, known_models: list[str], default_model: str | None = None,
                 web_search_engine: str | None = None, web_search_url: str | None = None,
                 set_model: bool = True, set_engine: bool = True, file: Path | None = None) -> None:
    """The chat model new conversations use (None: extractive answers) and the web-search engine
    ("none": off; searxng needs its URL)."""
    if set_model and default_model and default_model not in known_models and default_model != "auto":
        raise InvalidInput(f"unknown chat model '{default_model}'; configured: {', '.join(known_models) or 'none'}",
                           field="default_model")
    engine = (web_search_engine or "none") if set_engine else settings.websearch.engine
    url = (web_search_url.strip() or None if web_search_url is not None else settings.websearch.base_url)
    if set_engine:
        try:
            WebSearchSettings(engine=engine, base_url=url)
        except ValidationError as exc:
            raise InvalidInput(f"web search: {_problem(exc)}", field="web_search_engine") from None
        if engine == "searxng" and not url:
            raise InvalidInput("searxng needs the URL of your instance (e.g. http://127.0.0.1:8888)",
                               field="web_search_url")

    def change(doc: Any) -> None:
        if set_model:
            section(doc, "llm")["default"] = default_model or None
        if set_engine:
            ws = section(doc, "websearch")
            ws["engine"] = engine
            if url:
                ws["base_url"] = url
            else:
                ws.pop("base_url", None)

    edit(file or settings_file(settings), change, lambda data: _check(settings, data))
    if set_model:
        settings.llm.default = default_model or None
    if set_engine:
        settings.websearch = settings.websearch.model_copy(update={"engine": engine, "base_url": url})


def check_embedder(settings: Settings, name: str) -> None:
    known = settings.embedder_names()
    if name not in known:
        raise InvalidInput(f"unknown embedder '{name}'; configured: {', '.join(known)}", field="default_embedder")


def set_default_embedder(settings: Settings, name: str, file: Path | None = None) -> None:
    """The embedder NEW knowledge bases are built with; existing ones keep the one they were built with."""
    check_embedder(settings, name)

    def change(doc: Any) -> None:
        section(doc, "embedding")["default"] = name

    edit(file or settings_file(settings), change, lambda data: _check(settings, data))
    settings.embedding = settings.embedding.model_copy(update={"default": name})


def search_engines() -> list[str]:
    """The web-search engines the settings accept (built in and added by plugins), "none" first."""
    from zhiku.plugins import registry

    return ["none", *sorted(set(registry().names("search_engine")) - {"none"})]


def _check(settings: Settings, data: dict[str, Any]) -> None:
    """The edited file's sections still load (its other contents were the file's own)."""
    try:
        LLMSettings(**(data.get("llm") or {}))
        WebSearchSettings(**(data.get("websearch") or {}))
        embedding = data.get("embedding") or {}
        if "default" in embedding and embedding["default"] not in settings.embedder_names():
            raise ConfigError(f"{settings_file(settings)}: unknown embedder '{embedding['default']}', not written")
    except ValidationError as exc:
        raise ConfigError(f"{settings_file(settings)}: the edit would make the settings invalid, not written: "
                          f"{_problem(exc)}") from None


def server_models(base_url: str, api_key: str | None = None, timeout_s: float = 5.0) -> list[str]:
    """The models an OpenAI-compatible server lists at ``BASE_URL/models`` (the "test connection")."""
    import httpx

    base_url = base_url.strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput(f"the server URL must start with http:// or https:// (got '{base_url}')", field="base_url")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(base_url + "/models", headers=headers, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach {base_url}: {exc or type(exc).__name__}", code="model_server_unreachable") from None
    if response.status_code in (401, 403):
        raise Unavailable(f"{base_url} refused the API key ({response.status_code})", code="model_server_key_refused")
    if not response.is_success:
        raise Unavailable(f"{base_url}/models answered {response.status_code}", code="model_server_error")
    try:
        data = response.json().get("data") or []
        return sorted({str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")})
    except (ValueError, AttributeError, TypeError):
        raise Unavailable(f"{base_url}/models did not answer as an OpenAI-compatible server",
                          code="model_server_error") from None
