"""The web UI shows an agent answer's tool calls collapsed under the answer, as inert text: a hostile
argument (an image link, HTML) is shown escaped, never loaded (Streamlit's AppTest)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from zhiku.schema import ToolStep

EVIL = "![x](http://evil.example/p.png) <img src=x onerror=alert(1)>"


def test_the_trace_is_a_collapsed_expander_of_inert_lines() -> None:
    def script(steps: list[dict]) -> None:
        from zhiku.schema import ToolStep
        from zhiku.ui.views.chat_messages import Shown, show_message

        show_message(Shown(role="assistant", content="Paris [1].", trace=[ToolStep(**s) for s in steps]), "m1")

    steps = [ToolStep(step=1, tool="kb_search", arguments={"query": EVIL}, summary="3 passages", duration_ms=12),
             ToolStep(step=2, tool="shell", status="refused", error="there is no tool named 'shell'")]
    at = AppTest.from_function(script, args=([s.model_dump() for s in steps],), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    (expander,) = at.expander
    assert expander.label == "工具调用（2）" and not expander.proto.expanded
    shown = "\n".join(m.value for m in expander.markdown)
    assert r"kb\_search" in shown and "3 passages" in shown and "12 ms" in shown
    assert "⛔" in shown and "no tool named" in shown
    assert "![x](http" not in shown and r"\!\[x\]" in shown and "<img" not in shown.replace(r"\<img", "")
