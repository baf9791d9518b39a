"""What the server says, in the UI's language.

The server answers errors with a code (``error.type``, the ``kind`` of a ``zhiku.errors`` class, which
the client keeps as ``exc.kind``) and an English message; a failed file keeps its reason as English
text. In English the UI shows the server's words. In Chinese it shows a Chinese sentence: the one for
the message's pattern when it is a known one (their numbers and names kept), else the one for its
code, so no English sentence reaches a Chinese page. The English message stays in the server log,
the CLI and the API.
"""

from __future__ import annotations

import re
from typing import Any

from zhiku.ui.i18n import lang

# by error code (zhiku.errors kinds, and the HTTP types zhiku.api.errors adds)
KINDS_ZH = {
    "invalid_input": "请求内容不正确", "config_error": "配置有误", "too_large": "内容过大，超出限制",
    "unsupported_format": "不支持的文件类型", "context_too_long": "内容超出模型的上下文长度",
    "load_error": "文件无法读取", "not_found": "找不到要操作的对象（可能已被删除）",
    "conflict": "已存在或正忙，请稍后再试", "unauthorized": "用户名或密码错误，或登录已过期",
    "forbidden": "没有权限执行此操作", "unavailable": "服务暂不可用",
    "missing_dependency": "服务器缺少所需的可选组件", "model_unreachable": "无法连接模型服务（地址、网络或密钥有误）",
    "model_timeout": "模型在限定时间内没有回答", "rate_limited": "请求过于频繁，请稍后再试",
    "bad_model_response": "模型服务返回了错误或无法识别的内容", "download_failed": "下载失败",
    "checksum_mismatch": "下载的文件校验不一致", "cancelled": "已取消", "internal_error": "服务器内部错误，请查看服务器日志",
    "method_not_allowed": "不支持的请求方式", "unsupported_media_type": "不支持的内容类型",
    "database_unavailable": "数据库暂不可用", "error": "出错了",
}

# known English sentences → Chinese; the first that matches wins, its groups fill the template
def _compiled(pairs: list[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(p, re.I), zh) for p, zh in pairs]


GENERAL_ZH = _compiled([
    # logins
    (r"too many failed logins for '(?P<name>[^']*)': try again in (?P<s>\d+) s",
     "用户 {name} 的密码错误次数过多，请 {s} 秒后再试（或在以前登录过的浏览器上登录）"),
    (r"too many failed logins from this address: try again in (?P<s>\d+) s", "此地址登录失败次数过多，请 {s} 秒后再试"),
    (r"wrong user name or password", "用户名或密码错误（或该用户已停用）"),
    # knowledge bases, models, web search
    (r"knowledge base '(?P<name>[^']*)' does not exist", "知识库 {name} 不存在"),
    (r"knowledge base '(?P<name>[^']*)' already exists", "知识库 {name} 已存在"),
    # folders a KB follows (zhiku.ingest.sync)
    (r"no such folder: (?P<path>.+)$", "服务器上没有文件夹 {path}"),
    (r"^(?P<path>.+) is not a folder", "{path} 不是文件夹：知识库只能关注文件夹（单个文件请上传）"),
    (r"the root of the file system cannot be followed", "不能关注文件系统的根目录，请指定一个文件夹"),
    (r"follows (?P<path>.+) already, whose files are named '(?P<prefix>[^'/]*)/",
     "本知识库已关注 {path}，其文件同样以 {prefix}/ 命名；请重命名其中一个文件夹"),
    (r"^(?P<path>.+) is being synced", "{path} 正在同步，请稍后再试"),
    (r"the folder (?P<path>.+) is gone \(or not mounted\)",
     "文件夹 {path} 已不存在（或未挂载）：知识库未做任何改动；停止关注即可不再同步它"),
    (r"cannot reach the zhiku server", "服务器未启动或地址有误"),
    (r"web search|search engine", "联网搜索失败：搜索引擎不可用或未配置"),
    (r"no chat model|no model is configured", "未配置对话模型"),
    (r"did not answer|timed out|timeout", "模型在限定时间内没有回答"),
    (r"connection refused|cannot connect|could not connect|cannot reach|unreachable", "无法连接模型服务"),
])
# why a file failed (its record's reason, a job file's detail, an upload refused)
FILES_ZH = _compiled([
    (r"refused as a decompression bomb", "解压后体积过大（疑似压缩炸弹），已拒绝"),
    (r"over the (?P<mb>\d+) MB limit for one file", "文件超过单个文件 {mb} MB 的上限"),
    (r"over the (?P<mb>\d+) MB limit for one request", "上传内容超过单次 {mb} MB 的上限"),
    (r"too large", "文件过大，无法读取"),
    (r"the file is empty", "文件是空的"),
    (r"OCR read nothing", "图片中没有识别出文字"),
    (r"no text found", "文件中没有可提取的文字（扫描件需要 OCR）"),
    (r"password-protected|encrypted|DRM-protected", "文件有密码或加密保护，无法读取"),
    (r"the name says '(?P<ext>[^']*)' but the content is", "文件扩展名（{ext}）与实际内容不符"),
    (r"no loader reads '(?P<ext>[^']*)' files", "不支持 {ext} 类型的文件"),
    (r"same name|already has (this|that) name|name clash", "同一批上传中有同名文件，此文件未加入"),
    (r"damaged|broken|cannot be opened|malformed|unreadable|invalid JSON|not JSON Lines|not a |cannot read",
     "文件已损坏或格式不正确，无法读取"),
    (r"ingestion cancelled|cancelled", "已取消"),
    (r"interrupted", "处理被中断（服务器曾停止），请重新上传"),
])
FILE_KINDS = ("load_error", "unsupported_format", "too_large", "cancelled")


_NAMES = re.compile(r"'([^'\n]{1,80})'|(https?://[^\s'\",;)]+)|\b((?:\d{1,3}\.){3}\d{1,3}:\d+)\b")


def _names(message: str, said: str) -> str:
    """The names and addresses the message quotes and the sentence has not said, as ``（a，b）``:
    which model, KB or server it is about is worth keeping in any language."""
    found: list[str] = []
    for match in _NAMES.finditer(message):
        name = next(g for g in match.groups() if g).rstrip(":.")
        if name not in said and name not in found and not any(name in f for f in found):
            found.append(name)
    return f"（{'，'.join(found[:3])}）" if found else ""


def in_chinese(message: str, kind: str | None) -> str:
    for pattern, zh in GENERAL_ZH + (FILES_ZH if kind in FILE_KINDS else []):
        found = pattern.search(message)
        if found:
            said = zh.format(**found.groupdict())
            return said if kind in FILE_KINDS else said + _names(message, said)
    return KINDS_ZH.get(kind or "", KINDS_ZH["error"]) + _names(message, "")


def error_text(exc: Any) -> str:
    """A ``ZhikuError`` (or any exception with ``kind``) as a line in the UI's language."""
    message = str(exc)
    return in_chinese(message, getattr(exc, "kind", None)) if lang() == "zh" else message


def code_text(kind: str | None, message: str) -> str:
    """A message the server sent with its code (``login_code`` in a sign-in's redirect)."""
    return in_chinese(message, kind) if lang() == "zh" else message


def file_reason(reason: str | None) -> str:
    """Why a file failed (its record's ``error``, a job file's ``detail``), in the UI's language."""
    if not reason:
        return ""
    return in_chinese(reason, "load_error") if lang() == "zh" else reason
