"""Every string of the UI, in Chinese and English, in one place. ``t(key)`` picks the current language."""

from __future__ import annotations

from typing import Any

LANGS = {"zh": "中文", "en": "English"}
BY_LABEL = {label: code for code, label in LANGS.items()}
DEFAULT_LANG = "zh"

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "app_title": "知库",
        "nav_chat": "对话", "nav_kbs": "知识库", "nav_settings": "设置", "nav_login": "登录",
        "language": "语言",
        # chat
        "conversations": "会话", "new_conversation": "新建会话", "rename": "重命名", "delete": "删除",
        "untitled": "新会话", "confirm_delete_conversation": "确定删除此会话？", "save": "保存", "cancel": "取消",
        "mode": "模式", "mode_llm": "大模型对话", "mode_kb": "知识库问答", "mode_file": "文件对话",
        "mode_search": "搜索引擎问答", "mode_agent": "智能体",
        "needs_chat_model": "需要先配置对话模型", "needs_web_search": "需要先选择搜索引擎", "needs_vision_model": "需要先配置视觉模型（llm.vision_model）", "to_settings": "去设置",
        "kbs_placeholder": "选择知识库", "kbs_none": "还没有知识库", "all_kbs": "全部知识库（按问题自动选择）",
        "no_kbs_here": "还没有知识库：在左侧“新建知识库”中填写名称并创建。",
        "first_run_title": "欢迎使用知库",
        "first_run_kb": "**1. 新建知识库并上传文件**：PDF、Word、Excel、PPT、Markdown、网页等，上传后自动解析和索引。",
        "first_run_kb_link": "新建第一个知识库",
        "first_run_ask": "**2. 提问**：选择知识库后在下方输入问题，每个回答都标注出处，可点开查看原文。",
        "first_run_model": "**3. （可选）接入大模型**：未配置时为抽取式回答——从原文中摘取最相关的句子并标注出处，"
                           "不会编造；接入 Ollama、vLLM 等 OpenAI 兼容服务后，由模型根据出处组织回答。",
        "first_run_model_link": "配置大模型",
        "kbs": "知识库", "model": "模型", "model_default": "默认", "temperature": "温度", "top_k": "检索条数",
        "strict": "严格依据知识库", "strict_help": "知识库中找不到依据时直接说明，不让模型自由发挥",
        "ask_placeholder": "输入问题，按回车发送", "stop": "停止生成", "stopped": "（已停止）",
        "pick_kb": "请先在左侧选择至少一个知识库。", "no_kbs": "还没有知识库，请先到“知识库”页面创建并上传文件。",
        "tool_calls": "工具调用（{n}）", "tool_calling": "正在调用工具 {tool}…",
        "agentic": "智能检索", "agentic_help": "由模型把问题改写、拆成子问题并多次检索知识库（需要大模型）",
        "sources": "出处", "page": "第 {page} 页", "pages": "第 {start}–{end} 页", "section": "章节", "score": "相关度", "file": "文件",
        "download_source": "下载原文件", "feedback_reason": "原因（可选）", "send_feedback": "提交反馈",
        "feedback_thanks": "感谢反馈！", "export_md": "导出 Markdown", "thinking": "思考中…",
        "not_found": "知识库中没有找到足够的依据。", "chat_files": "上传要对话的文件",
        "chat_files_ready": "文件已就绪：{names}",
        "source_n": "出处 [{n}]", "download_page": "下载第 {page} 页（PDF）", "open_web_page": "打开网页",
        "welcome": "有什么可以帮您？选择模式和知识库，然后提问。",
        # knowledge bases
        "kb_select": "选择知识库", "kb_create": "新建知识库", "kb_name": "名称", "kb_description": "描述",
        "kb_embedder": "向量模型", "kb_create_btn": "创建", "kb_created": "已创建知识库 {name}",
        "kb_delete": "删除知识库", "kb_delete_confirm": "输入知识库名称 “{name}” 以确认删除（不可恢复）",
        "kb_deleted": "已删除知识库 {name}", "tab_files": "文件", "tab_upload": "上传", "tab_chunks": "分块",
        "tab_test": "检索测试", "tab_maintenance": "维护",
        "kb_stats": "{files} 个文件 · {chunks} 个分块 · 向量模型 {embedder}",
        "upload_files": "选择文件（可多选）", "upload_btn": "上传并索引", "upload_choose_first": "请先选择要上传的文件。",
        "upload_progress": "正在索引 {done}/{total}",
        "upload_done": "完成：{ok} 个成功，{failed} 个失败", "col_name": "文件名", "col_size": "大小",
        "col_chunks": "分块", "col_pages": "页数", "col_status": "状态", "col_added": "添加时间",
        "col_reason": "原因", "col_outcome": "结果",
        "status_pending": "待处理", "status_indexing": "索引中", "status_indexed": "已索引", "status_failed": "失败",
        "outcome_queued": "排队中", "outcome_running": "索引中", "outcome_added": "已索引", "outcome_replaced": "已更新",
        "outcome_skipped": "未变化", "outcome_failed": "失败", "outcome_cancelled": "已取消",
        "no_files": "这个知识库还没有文件。", "selected_files": "已选 {n} 个文件", "delete_files": "删除所选文件",
        "reingest_files": "重新解析所选文件", "download_file": "下载", "files_deleted": "已删除 {n} 个文件",
        "reingest_started": "已开始重新解析 {n} 个文件", "chunk_file": "文件", "chunk_n": "分块 {seq}",
        "chunk_saved": "分块已保存并重新向量化", "chunk_deleted": "分块已删除", "chunks_page": "分页",
        "no_chunks": "没有分块。", "test_query": "测试问题", "test_mode": "检索方式", "test_run": "检索",
        "no_hits": "没有命中。", "col_score": "综合分", "col_dense": "向量分", "col_lexical": "关键词分",
        "col_text": "内容", "rebuild": "重建索引", "rebuilt": "索引已重建：{chunks} 个分块", "check": "一致性检查",
        "repair": "检查并修复", "consistent": "一切正常", "problems": "发现问题", "cancel_job": "取消任务",
        "refresh": "刷新", "kb_files_n": "{n} 个文件", "kb_files_n_one": "1 个文件", "kb_files_failed": "{n} 个失败",
        "kb_files_pending": "{n} 个待处理", "kb_stats_all": "{files} · {chunks} 个分块 · 向量模型 {embedder}",
        "mode_hybrid": "混合检索", "mode_dense": "向量检索", "mode_lexical": "关键词检索",
        "col_dense_rank": "向量名次", "col_lexical_rank": "关键词名次",
        "fused_help": "综合分是向量与关键词两路的加权融合：每一路先在候选段落中按相对强弱归一（该路最强者为 1），"
                      "关键词一路的权重随问题关键词的命中程度自动调整，再乘以整体置信度。因此关键词分更高的段落，"
                      "也可能因向量一路较弱而排在后面；名次为两路各自在本次结果中的排名。",
        "db_ok": "正常", "db_down": "不可用",
        # settings
        "server": "服务器", "version": "版本", "database": "数据库", "jobs_running": "运行中的任务",
        "models": "对话模型", "reachable": "可连接", "unreachable": "不可连接", "embedders": "向量模型",
        "default": "默认", "no_models": "未配置对话模型：知识库问答以抽取方式作答（从原文中摘取最相关的句子并标注出处）。",
        "defaults": "默认设置", "api_url": "API 地址",
        "model_servers": "模型服务（OpenAI 兼容）",
        "model_servers_help": "Ollama、vLLM、Xinference、LM Studio、llama.cpp server 或云端 API。保存后立即生效，无需重启。",
        "model_server_add": "添加模型服务", "model_name": "名称", "model_url": "服务地址",
        "model_key": "API 密钥", "model_key_kept": "已保存（留空则保持不变）", "model_model": "模型",
        "test_connection": "测试连接", "connection_ok": "连接成功，{n} 个模型：{models}",
        "model_saved": "已保存模型 {name}", "model_removed": "已删除模型 {name}",
        "answer_defaults": "回答方式", "default_model": "默认对话模型", "extractive_answers": "不用大模型（抽取式回答）",
        "web_engine": "搜索引擎", "web_off": "关闭联网搜索", "web_engine_url": "搜索引擎地址（searxng 必填）",
        "defaults_saved": "已保存，立即生效",
        "signed_in_as": "当前用户：{name}", "logout": "退出登录",
        # login
        "login_title": "登录知库", "username": "用户名", "password": "密码", "login_btn": "登录",
        "login_failed": "登录失败：{reason}", "login_required": "此服务器需要登录。", "logged_out": "已退出登录",
        # errors
        "error": "出错了：{message}", "unreachable_api": "无法连接知库服务器：{message}",
        "model_unreachable": "模型不可用：{message}",
    },
    "en": {
        "app_title": "zhiku",
        "nav_chat": "Chat", "nav_kbs": "Knowledge bases", "nav_settings": "Settings", "nav_login": "Sign in",
        "language": "Language",
        "conversations": "Conversations", "new_conversation": "New conversation", "rename": "Rename",
        "delete": "Delete", "untitled": "New conversation", "confirm_delete_conversation": "Delete this conversation?",
        "save": "Save", "cancel": "Cancel",
        "mode": "Mode", "mode_llm": "LLM chat", "mode_kb": "Knowledge base", "mode_file": "Chat with files",
        "mode_search": "Web search", "mode_agent": "Agent",
        "needs_chat_model": "needs a chat model", "needs_web_search": "needs a web-search engine", "needs_vision_model": "needs a vision model (llm.vision_model)",
        "to_settings": "Settings",
        "kbs_placeholder": "Choose knowledge bases", "kbs_none": "No knowledge base yet",
        "all_kbs": "All my knowledge bases (chosen per question)",
        "no_kbs_here": "No knowledge base yet: create one with the form on the left.",
        "first_run_title": "Welcome to zhiku",
        "first_run_kb": "**1. Create a knowledge base and upload files**: PDF, Word, Excel, PowerPoint, Markdown, "
                        "web pages and more, read and indexed as they arrive.",
        "first_run_kb_link": "Create your first knowledge base",
        "first_run_ask": "**2. Ask**: pick the knowledge base and type a question below; every answer cites its "
                         "sources, which open to the passage.",
        "first_run_model": "**3. (Optional) connect a chat model**: without one, answers are extractive: the "
                           "best sentences of your documents, with citations, nothing made up. With an "
                           "OpenAI-compatible server (Ollama, vLLM...) the model writes the answer from the sources.",
        "first_run_model_link": "Set up a chat model",
        "kbs": "Knowledge bases", "model": "Model", "model_default": "default", "temperature": "Temperature",
        "top_k": "Passages (top-k)", "strict": "Strict grounding",
        "strict_help": "When the knowledge base has no support, say so instead of letting the model improvise",
        "ask_placeholder": "Ask a question and press Enter", "stop": "Stop", "stopped": "(stopped)",
        "pick_kb": "Pick at least one knowledge base in the sidebar.",
        "no_kbs": "No knowledge base yet: create one on the Knowledge bases page and upload files.",
        "tool_calls": "Tool calls ({n})", "tool_calling": "Calling {tool}…",
        "agentic": "Agentic search", "agentic_help": "the model rewrites the question, splits it into sub-questions "
        "and searches the knowledge bases again when needed (needs a chat model)",
        "sources": "Sources", "page": "page {page}", "pages": "pages {start}–{end}", "section": "Section", "score": "Relevance", "file": "File",
        "download_source": "Download source file", "feedback_reason": "Reason (optional)",
        "send_feedback": "Send feedback", "feedback_thanks": "Thanks for the feedback!",
        "export_md": "Export Markdown", "thinking": "Thinking…",
        "not_found": "The knowledge base has no good support for this.", "chat_files": "Upload files to chat with",
        "chat_files_ready": "Files ready: {names}",
        "source_n": "Source [{n}]", "download_page": "Download page {page} (PDF)", "open_web_page": "Open the web page",
        "welcome": "How can I help? Pick a mode and knowledge bases, then ask.",
        "kb_select": "Knowledge base", "kb_create": "New knowledge base", "kb_name": "Name",
        "kb_description": "Description", "kb_embedder": "Embedding model", "kb_create_btn": "Create",
        "kb_created": "Created knowledge base {name}", "kb_delete": "Delete knowledge base",
        "kb_delete_confirm": "Type the name “{name}” to confirm (this cannot be undone)",
        "kb_deleted": "Deleted knowledge base {name}", "tab_files": "Files", "tab_upload": "Upload",
        "tab_chunks": "Chunks", "tab_test": "Retrieval test", "tab_maintenance": "Maintenance",
        "kb_stats": "{files} files · {chunks} chunks · embedder {embedder}",
        "upload_files": "Choose files (several at once)", "upload_btn": "Upload and index",
        "upload_choose_first": "Choose the files to upload first.",
        "upload_progress": "Indexing {done}/{total}", "upload_done": "Done: {ok} indexed, {failed} failed",
        "col_name": "File", "col_size": "Size", "col_chunks": "Chunks", "col_pages": "Pages", "col_status": "Status",
        "col_added": "Added", "col_reason": "Reason", "col_outcome": "Outcome",
        "status_pending": "pending", "status_indexing": "indexing", "status_indexed": "indexed",
        "status_failed": "failed",
        "outcome_queued": "queued", "outcome_running": "indexing", "outcome_added": "indexed",
        "outcome_replaced": "updated", "outcome_skipped": "unchanged", "outcome_failed": "failed",
        "outcome_cancelled": "cancelled",
        "no_files": "This knowledge base has no files yet.", "selected_files": "{n} selected",
        "delete_files": "Delete selected", "reingest_files": "Re-ingest selected", "download_file": "Download",
        "files_deleted": "Deleted {n} files", "reingest_started": "Re-ingesting {n} files", "chunk_file": "File",
        "chunk_n": "Chunk {seq}", "chunk_saved": "Chunk saved and re-embedded", "chunk_deleted": "Chunk deleted",
        "chunks_page": "Page", "no_chunks": "No chunks.", "test_query": "Test question", "test_mode": "Retrieval",
        "test_run": "Search", "no_hits": "No hits.", "col_score": "Score", "col_dense": "Dense",
        "col_lexical": "Lexical", "col_text": "Text", "rebuild": "Rebuild indexes",
        "rebuilt": "Indexes rebuilt: {chunks} chunks", "check": "Check consistency", "repair": "Check and repair",
        "consistent": "Everything is consistent", "problems": "Problems found", "cancel_job": "Cancel job",
        "refresh": "Refresh", "kb_files_n": "{n} files", "kb_files_n_one": "1 file", "kb_files_failed": "{n} failed",
        "kb_files_pending": "{n} pending", "kb_stats_all": "{files} · {chunks} chunks · embedder {embedder}",
        "mode_hybrid": "hybrid", "mode_dense": "dense (vectors)", "mode_lexical": "lexical (keywords)",
        "col_dense_rank": "Dense rank", "col_lexical_rank": "Lexical rank",
        "fused_help": "The score fuses the two channels with weights: each is first scaled within the candidate "
                      "passages (its best = 1), the keyword channel's weight follows how much of the question's "
                      "key terms it matched, and the result is multiplied by an overall confidence. So a passage "
                      "with the higher keyword score can rank lower when its vector side is weaker; the ranks are "
                      "each channel's order among these results.",
        "db_ok": "ok", "db_down": "unavailable",
        "server": "Server", "version": "Version", "database": "Database", "jobs_running": "Jobs running",
        "models": "Chat models", "reachable": "reachable", "unreachable": "unreachable",
        "embedders": "Embedding models", "default": "default",
        "no_models": "No chat model configured: knowledge-base answers are extractive (the best sentences of the "
                     "sources, with citations).",
        "defaults": "Defaults", "api_url": "API URL",
        "model_servers": "Model servers (OpenAI-compatible)",
        "model_servers_help": "Ollama, vLLM, Xinference, LM Studio, llama.cpp server or a cloud API. Saved "
                              "changes apply at once, no restart.",
        "model_server_add": "Add a model server", "model_name": "Name", "model_url": "Server URL",
        "model_key": "API key", "model_key_kept": "stored (leave empty to keep it)", "model_model": "Model",
        "test_connection": "Test connection", "connection_ok": "Connected, {n} models: {models}",
        "model_saved": "Saved model {name}", "model_removed": "Removed model {name}",
        "answer_defaults": "Answers", "default_model": "Default chat model",
        "extractive_answers": "no model (extractive answers)",
        "web_engine": "Web-search engine", "web_off": "web search off",
        "web_engine_url": "Engine URL (searxng needs it)", "defaults_saved": "Saved, in effect now",
        "signed_in_as": "Signed in as {name}", "logout": "Sign out",
        "login_title": "Sign in to zhiku", "username": "User name", "password": "Password", "login_btn": "Sign in",
        "login_failed": "Sign-in failed: {reason}", "login_required": "This server needs you to sign in.",
        "logged_out": "Signed out",
        "error": "Something went wrong: {message}", "unreachable_api": "Cannot reach the zhiku server: {message}",
        "model_unreachable": "The model is unavailable: {message}",
    },
}


def lang() -> str:
    """The current language: the switch's (kept in the URL as ``?lang=English``), else Chinese."""
    import streamlit as st

    value = st.session_state.get("lang") or st.query_params.get("lang") or DEFAULT_LANG
    value = BY_LABEL.get(value, value)  # the URL holds the switch's label (?lang=English)
    return value if value in STRINGS else DEFAULT_LANG


def t(key: str, **kw: Any) -> str:
    text = STRINGS[lang()].get(key) or STRINGS["en"].get(key) or key
    return text.format(**kw) if kw else text


from zhiku.ui.i18n_settings import SETTINGS_STRINGS  # noqa: E402 - the settings page's local models, kept apart

for _code, _strings in SETTINGS_STRINGS.items():
    STRINGS[_code].update(_strings)

from zhiku.ui.i18n_summaries import SUMMARY_STRINGS  # noqa: E402 - the summaries' strings, kept apart

for _code, _strings in SUMMARY_STRINGS.items():
    STRINGS[_code].update(_strings)

from zhiku.ui.i18n_sources import SOURCE_STRINGS  # noqa: E402 - the folders a KB follows, kept apart

for _code, _strings in SOURCE_STRINGS.items():
    STRINGS[_code].update(_strings)
