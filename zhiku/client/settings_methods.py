"""The settings half of the typed client: what answers can use (chat models, the default one, web
search) and, for admins, OpenAI-compatible model servers and the defaults, changed while the server
runs. The wire models are shared with the server's routes (zhiku.api.routes.settings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import httpx


class ModelServer(BaseModel):
    name: str
    base_url: str | None
    model: str | None
    has_key: bool = Field(description="whether an API key is stored (the key itself is never sent back)")


class AnswerSettings(BaseModel):
    default_model: str | None = Field(description="chat model of new conversations; null: extractive answers")
    chat_models: list[str] = Field(description="every chat model a conversation can use (configured, pulled, "
                                               "detected)")
    web_search_engine: str | None = Field(description="the web-search engine; null: web search is off")
    web_search_url: str | None
    model_servers: list[ModelServer] = Field(description="the OpenAI-compatible models in the settings file")
    settings_file: str | None = Field(None, description="where changes are saved (admins only)")
    default_embedder: str | None = Field(None, description="embedder of NEW knowledge bases (each KB keeps its own)")
    embedders: list[str] = Field(default_factory=list, description="the embedders a new KB can be built with")
    web_search_engines: list[str] = Field(default_factory=list, description="the engines web search can use")
    vision_model: str | None = Field(None, description="the model that reads pictures (captions, questions with a "
                                                       "picture); null: none is configured")


class ModelServerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    base_url: str = Field(max_length=2000, description="e.g. http://127.0.0.1:11434/v1")
    model: str = Field(max_length=500, description="the model name the server runs")
    api_key: str | None = Field(None, max_length=4000, description="empty: keep the stored key")
    clear_key: bool = Field(False, description="drop the stored key")


class ConnectionTest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    base_url: str = Field(max_length=2000)
    api_key: str | None = Field(None, max_length=4000)
    name: str | None = Field(None, max_length=100, description="a configured model whose stored key to use "
                                                                "when api_key is empty")


class ServerModels(BaseModel):
    models: list[str]


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    default_model: str | None = Field(None, max_length=200, description="null or empty: extractive answers")
    web_search_engine: str | None = Field(None, max_length=100, description="null or 'none': web search off")
    web_search_url: str | None = Field(None, max_length=2000, description="the engine's URL (searxng needs it)")
    default_embedder: str | None = Field(None, max_length=200, description="the embedder new KBs are built with "
                                                                           "(each existing KB keeps its own)")


class DetectedServer(BaseModel):
    kind: str = Field(description="ollama, llamacpp, vllm, lmstudio or xinference")
    label: str
    port: int
    base_url: str = Field(description="the OpenAI-compatible base URL zhiku would use")
    models: list[str]
    added: list[str] = Field(default_factory=list, description="its models already in the settings, by name")


class Detection(BaseModel):
    found: list[DetectedServer]
    probed: dict[str, int] = Field(description="kind → the port on 127.0.0.1 looked at")
    problems: list[str] = Field(description="ports that answered, but not as that kind of server")


class DetectedAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    kind: str = Field(max_length=100)
    model: str | None = Field(None, max_length=500, description="one of its models; empty: its first")
    name: str | None = Field(None, max_length=100, description="empty: kind-model")
    make_default: bool = Field(False, description="also make it the default chat model")


class CatalogModel(BaseModel):
    name: str
    about: str
    about_zh: str = ""
    file: str
    pinned_sha256: bool


class Catalog(BaseModel):
    models: list[CatalogModel]
    mirrors: list[str]
    mirror: str = Field(description="the mirror used when none is given (llm.mirror)")


class PullIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    what: str = Field(min_length=1, max_length=2000, description="a catalog name or the URL of a .gguf file")
    mirror: str | None = Field(None, max_length=2000, description="huggingface, hf-mirror, modelscope or a URL")
    sha256: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=100, description="the chat model's name (default: from the file)")


class PullStatus(BaseModel):
    id: str
    what: str
    file: str
    name: str = Field(description="the chat model it becomes once done")
    state: str = Field(description="running, cancelling, done, failed or cancelled")
    done_bytes: int
    total_bytes: int | None
    resumed_from: int = 0
    sha256: str | None = None
    verified: bool = False
    error: str | None = None

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else None


class SettingsMethods:
    """Settings methods of ``ZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        http: httpx.Client
        def _do(self, call: Any, **kw: Any) -> Any: ...

    def get_settings(self) -> AnswerSettings:
        return self._call("GET", "/api/settings")

    def put_model_server(self, name: str, base_url: str, model: str, api_key: str | None = None,
                         clear_key: bool = False) -> AnswerSettings:
        body = ModelServerIn(base_url=base_url, model=model, api_key=api_key, clear_key=clear_key)
        return self._call("PUT", f"/api/settings/models/{quote(name, safe='')}", body.model_dump())

    def delete_model_server(self, name: str) -> AnswerSettings:
        return self._call("DELETE", f"/api/settings/models/{quote(name, safe='')}")

    def test_model_server(self, base_url: str, api_key: str | None = None, name: str | None = None) -> list[str]:
        body = ConnectionTest(base_url=base_url, api_key=api_key, name=name).model_dump()
        return list(self._call("POST", "/api/settings/test-connection", body, ServerModels).models)

    def set_defaults(self, **fields: Any) -> AnswerSettings:
        """``default_model``, ``web_search_engine``, ``web_search_url``, ``default_embedder``: the ones
        given change."""
        return self._call("PUT", "/api/settings/defaults", Defaults(**fields).model_dump(exclude_unset=True))

    def detect_servers(self) -> Detection:
        """Model servers running on the server's machine (Ollama, llama.cpp server, vLLM, ...)."""
        return self._call("GET", "/api/settings/detect", parse=Detection)

    def add_detected(self, kind: str, model: str | None = None, name: str | None = None,
                     make_default: bool = False) -> AnswerSettings:
        body = DetectedAdd(kind=kind, model=model, name=name, make_default=make_default).model_dump()
        return self._call("POST", "/api/settings/detect/add", body)

    def model_catalog(self) -> Catalog:
        return self._call("GET", "/api/settings/catalog", parse=Catalog)

    def start_pull(self, what: str, mirror: str | None = None, sha256: str | None = None,
                   name: str | None = None) -> PullStatus:
        body = PullIn(what=what, mirror=mirror, sha256=sha256, name=name).model_dump()
        return self._call("POST", "/api/settings/pulls", body, PullStatus)

    def pull_status(self, pull_id: str) -> PullStatus:
        return self._call("GET", f"/api/settings/pulls/{quote(pull_id, safe='')}", parse=PullStatus)

    def cancel_pull(self, pull_id: str) -> PullStatus:
        return self._call("DELETE", f"/api/settings/pulls/{quote(pull_id, safe='')}", parse=PullStatus)

    def _call(self, method: str, path: str, body: Any = None, parse: type[BaseModel] = AnswerSettings) -> Any:
        from zhiku.client.routes import Call

        return self._do(Call(method, path, parse.model_validate, json=body))
