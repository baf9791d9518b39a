"""The ``llm`` settings section: the chat models answers can be generated with, and how to reach them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from zhiku.config.base import _registered_name, _Section


class ChatModelConfig(_Section):
    """A chat model answers can be generated with: any OpenAI-compatible server or a local GGUF file."""

    type: str = Field(
        "openai", description="openai (any OpenAI-compatible server), llamacpp (a local GGUF file, zhiku[local]) "
        "or a chat model type a plugin adds"
    )
    preset: str | None = Field(
        None, description="fills base_url for a known server: ollama, vllm, xinference, lmstudio, llamacpp-server, "
        "openai, deepseek, dashscope, zhipu"
    )
    base_url: str | None = Field(None, description="base URL of an openai server, e.g. http://127.0.0.1:11434/v1")
    model: str | None = Field(None, description="model name sent to an openai server, e.g. qwen2.5:7b-instruct")
    api_key: str | None = Field(None, description="API key of an openai server (or use api_key_env)")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    path: str | None = Field(None, description="GGUF file of a llamacpp model (relative: under HOME/models)")
    context_window: int = Field(4096, ge=256, le=2_000_000, description="tokens the model sees at once")
    max_tokens: int = Field(512, ge=16, le=100_000, description="longest reply in tokens")
    temperature: float = Field(0.2, ge=0, le=2, description="sampling temperature")
    threads: int = Field(2, ge=1, le=256, description="CPU threads of a llamacpp model")
    connect_timeout_s: float | None = Field(None, gt=0, description="overrides llm.connect_timeout_s")
    read_timeout_s: float | None = Field(None, gt=0, description="overrides llm.read_timeout_s")
    total_timeout_s: float | None = Field(None, gt=0, description="overrides llm.total_timeout_s")
    vision: bool = Field(False, description="the model takes pictures (OpenAI image_url content parts): it may "
                         "caption pictures at ingestion and answer questions with a picture")

    @field_validator("type")
    @classmethod
    def _registered(cls, v: str) -> str:
        return _registered_name("chat_model", v, "openai", "llamacpp")

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        from zhiku.llm.presets import PRESETS

        if v is not None and v not in PRESETS:
            raise ValueError(f"unknown preset '{v}'; known: {', '.join(sorted(PRESETS))}")
        return v


class LLMSettings(_Section):
    default: str | None = Field(
        None, description="model of new conversations (a key of `models`); empty: extractive answers; "
        "`auto`: the first model of a local Ollama / llama.cpp server found at start"
    )
    models: dict[str, ChatModelConfig] = Field(default_factory=dict, description="named chat models")
    grounding: Literal["strict", "lenient"] = Field(
        "strict", description="under the relevance floor: strict says the KB has no answer, lenient answers "
        "with a visible warning"
    )
    detect_local: bool = Field(True, description="look for Ollama (11434) and llama.cpp server (8080) on 127.0.0.1")
    probe_ports: dict[str, Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: {"ollama": 11434, "llamacpp": 8080, "vllm": 8000, "lmstudio": 1234,
                                 "xinference": 9997},
        description="ports on 127.0.0.1 that the settings page's and `zhiku model detect`'s search looks at, by kind")
    connect_timeout_s: float = Field(5.0, gt=0, description="seconds to connect to a model server")
    read_timeout_s: float = Field(60.0, gt=0, description="seconds a model may stay silent (first token, mid-stream)")
    total_timeout_s: float = Field(300.0, gt=0, description="seconds a whole reply may take")
    history_share: float = Field(
        0.3, ge=0, le=0.9, description="share of the prompt budget earlier turns may use (sources get the rest)"
    )
    mirror: str = Field(
        "huggingface", description="where `zhiku model pull` downloads: huggingface, modelscope, hf-mirror or a URL"
    )
    vision_model: str | None = Field(
        None, description="model that captions pictures at ingestion and answers questions with a picture (a key "
        "of `models`, an openai-type server with image input); empty: the first model with `vision: true`, else none"
    )
