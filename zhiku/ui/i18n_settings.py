"""Strings of the settings page's local models (servers found on this machine, GGUF pulls) and its
embedder choice, merged into ``zhiku.ui.i18n.STRINGS``."""

from __future__ import annotations

SETTINGS_STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "local_servers": "本机的模型服务",
        "local_servers_help": "查找本机（127.0.0.1）上运行的 Ollama、llama.cpp server、vLLM、LM Studio、Xinference，"
                              "一键添加为模型服务。",
        "detect": "查找本机模型服务", "detect_none": "本机没有找到模型服务（查看了 {looked}）。",
        "detect_found": "{label}（端口 {port}）", "detect_model": "模型", "detect_add": "添加",
        "detect_added": "已添加为 {names}", "detect_no_models": "这个服务还没有模型。",
        "detect_saved": "已添加模型 {name}",
        "pull_title": "下载本地模型（GGUF）",
        "pull_help": "从模型目录（或任意 .gguf 地址）下载到服务器的 HOME/models，可断点续传并校验 sha256；"
                     "下载完成后即可作为本地对话模型使用。",
        "pull_model": "模型目录", "pull_url": "或 .gguf 文件地址", "pull_mirror": "下载源", "pull_start": "开始下载",
        "pull_progress": "{file}：{done} / {total}", "pull_progress_unknown": "{file}：已下载 {done}",
        "pull_cancel": "取消下载", "pull_cancelling": "正在取消……", "pull_cancelled": "已取消下载 {file}，未保留任何部分文件。",
        "pull_done": "已下载 {file}，可作为对话模型 {name} 使用。", "pull_failed": "下载 {file} 失败：{error}",
        "pull_make_default": "设为默认对话模型", "pull_default_set": "默认对话模型：{name}",
        "pull_verified": "sha256 已校验", "pull_unverified": "无可校验的 sha256，已记录：{sha}",
        "mirror_huggingface": "Hugging Face 官方", "mirror_hf-mirror": "hf-mirror 国内镜像",
        "mirror_modelscope": "魔搭社区 ModelScope",
        "default_embedder": "新建知识库的向量模型",
        "embedder_note": "只影响之后新建的知识库；已有知识库保留各自的向量模型（可用 `zhiku kb migrate --embedder` 迁移）。",
    },
    "en": {
        "local_servers": "Model servers on this machine",
        "local_servers_help": "Finds Ollama, llama.cpp server, vLLM, LM Studio and Xinference running on this machine "
                              "(127.0.0.1) and adds one as a model server in one click.",
        "detect": "Find local model servers",
        "detect_none": "No model server found on this machine (looked at {looked}).",
        "detect_found": "{label} (port {port})", "detect_model": "Model", "detect_add": "Add",
        "detect_added": "Added as {names}", "detect_no_models": "This server has no model yet.",
        "detect_saved": "Added model {name}",
        "pull_title": "Download a local model (GGUF)",
        "pull_help": "Downloads from the catalog (or any .gguf URL) into the server's HOME/models, resumable and "
                     "sha256-checked; once done it is a local chat model.",
        "pull_model": "Catalog", "pull_url": "or the URL of a .gguf file", "pull_mirror": "Download from",
        "pull_start": "Download", "pull_progress": "{file}: {done} of {total}",
        "pull_progress_unknown": "{file}: {done} so far", "pull_cancel": "Cancel download",
        "pull_cancelling": "Cancelling…", "pull_cancelled": "Download of {file} cancelled; no partial file kept.",
        "pull_done": "Downloaded {file}: chat model {name} is ready.",
        "pull_failed": "Download of {file} failed: {error}",
        "pull_make_default": "Use as the default chat model", "pull_default_set": "Default chat model: {name}",
        "pull_verified": "sha256 verified", "pull_unverified": "no sha256 to check against; recorded: {sha}",
        "mirror_huggingface": "Hugging Face", "mirror_hf-mirror": "hf-mirror (a mirror in China)",
        "mirror_modelscope": "ModelScope",
        "default_embedder": "Embedder of new knowledge bases",
        "embedder_note": "Only knowledge bases created from now on; existing ones keep their embedder (move one with "
                         "`zhiku kb migrate --embedder`).",
    },
}
