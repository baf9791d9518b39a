"""The server's English error texts as the Chinese UI says them (issue 21, item 4): by the message's
pattern when it is a known one, else by its error code; names and addresses kept, no English sentence."""

from __future__ import annotations

import re

import pytest

from zhiku.ui.messages import KINDS_ZH, in_chinese


@pytest.mark.parametrize("message, kind, said", [
    ("wrong user name or password (or the user is disabled)", "unauthorized", "用户名或密码错误（或该用户已停用）"),
    ("too many failed logins for 'alice': try again in 299 s (or from a client that logged in as this user "
     "before)", "rate_limited", "用户 alice 的密码错误次数过多，请 299 秒后再试（或在以前登录过的浏览器上登录）"),
    ("knowledge base '手册' does not exist", "not_found", "知识库 手册 不存在"),
    ("cannot reach the zhiku server at http://127.0.0.1:9: [Errno 111] Connection refused", "unavailable",
     "服务器未启动或地址有误（http://127.0.0.1:9）"),
    ("model 'far' at http://127.0.0.1:4321/v1 cannot be reached: connection refused", "model_unreachable",
     "无法连接模型服务（far，http://127.0.0.1:4321/v1）"),
    ("broken.pdf: damaged PDF, cannot be opened (EOF marker not found)", "load_error", "文件已损坏或格式不正确，无法读取"),
    ("x.xyz: no loader reads '.xyz' files; supported: .csv .docx .md", "unsupported_format", "不支持 .xyz 类型的文件"),
    ("'big.txt' is over the 1 MB limit for one file", "too_large", "文件超过单个文件 1 MB 的上限"),
    ("refused as a decompression bomb: its part 'word/document.xml' unpacks 900 times its size", "load_error",
     "解压后体积过大（疑似压缩炸弹），已拒绝"),
    ("scan.pdf: no text found in 3 page(s): scanned pages need OCR", "load_error",
     "文件中没有可提取的文字（扫描件需要 OCR）"),
])
def test_known_messages_are_said_in_chinese(message: str, kind: str, said: str) -> None:
    assert in_chinese(message, kind) == said


def test_an_unknown_message_says_what_its_code_means_and_keeps_its_names() -> None:
    said = in_chinese("the conversation 'abc123' cannot take a message now", "conflict")
    assert said == KINDS_ZH["conflict"] + "（abc123）"
    assert in_chinese("something new went wrong", None) == KINDS_ZH["error"]


def test_every_code_of_the_error_tree_has_its_chinese() -> None:
    import zhiku.errors as errors

    kinds = {cls.kind for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.ZhikuError)}
    assert kinds <= set(KINDS_ZH), kinds - set(KINDS_ZH)
    assert not [k for k, zh in KINDS_ZH.items() if re.search(r"[A-Za-z]{3,}", zh)]
