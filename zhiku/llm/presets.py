"""Known OpenAI-compatible servers: where they listen and how they name models.

A model config names a preset instead of a base URL; ``model`` is still the
server's own name for the model (``hint`` shows its shape)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    base_url: str
    hint: str  # what a model name looks like on this server
    needs_key: bool = False
    key_env: str | None = None
    local: bool = False


PRESETS: dict[str, Preset] = {
    "ollama": Preset("http://127.0.0.1:11434/v1", "qwen2.5:7b-instruct (`ollama list`)", local=True),
    "vllm": Preset("http://127.0.0.1:8000/v1", "Qwen/Qwen2.5-7B-Instruct (the --model / --served-model-name)",
                   local=True),
    "xinference": Preset("http://127.0.0.1:9997/v1", "the model UID you launched, e.g. qwen2.5-instruct", local=True),
    "lmstudio": Preset("http://127.0.0.1:1234/v1", "qwen2.5-7b-instruct (as LM Studio lists it)", local=True),
    "llamacpp-server": Preset("http://127.0.0.1:8080/v1", "any name (llama.cpp serves the one loaded model)",
                              local=True),
    "openai": Preset("https://api.openai.com/v1", "gpt-4o-mini", needs_key=True, key_env="OPENAI_API_KEY"),
    "deepseek": Preset("https://api.deepseek.com/v1", "deepseek-chat", needs_key=True, key_env="DEEPSEEK_API_KEY"),
    "dashscope": Preset("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen-plus / qwen-turbo",
                        needs_key=True, key_env="DASHSCOPE_API_KEY"),
    "zhipu": Preset("https://open.bigmodel.cn/api/paas/v4", "glm-4-flash / glm-4-plus", needs_key=True,
                    key_env="ZHIPUAI_API_KEY"),
}

# servers looked for on loopback at start: (preset, port)
LOCAL_PROBES: tuple[tuple[str, int], ...] = (("ollama", 11434), ("llamacpp-server", 8080))
