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
        """``default_model``, ``web_search_engine``, ``web_search_url``: the ones given change."""
        return self._call("PUT", "/api/settings/defaults", Defaults(**fields).model_dump(exclude_unset=True))

    def _call(self, method: str, path: str, body: Any = None, parse: type[BaseModel] = AnswerSettings) -> Any:
        from zhiku.client.routes import Call

        return self._do(Call(method, path, parse.model_validate, json=body))
