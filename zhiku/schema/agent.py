"""The agent's trace: one ``ToolStep`` per tool call the model asked for, streamed as an answer
event while the answer is made and stored with the answer (``Answer.trace``, a message's ``trace``).

This module imports nothing of ``zhiku.schema`` so that the answer nouns can name it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

StepStatus = Literal["ok", "error", "refused", "timeout", "cancelled"]


class ToolStep(BaseModel):
    """One tool call of an agent answer: what was called with which arguments, and how it went.

    ``status``: ``ok`` (the tool answered), ``error`` (it failed; ``error`` says why, and the model
    saw that reason as the result), ``refused`` (not run: unknown or not enabled tool, bad arguments,
    a tool that needs approval, the step limit), ``timeout`` (it took longer than its limit),
    ``cancelled`` (the answer was stopped)."""

    type: Literal["tool_step"] = "tool_step"
    step: int = Field(description="1 for the first tool call of the answer")
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    status: StepStatus = "ok"
    summary: str = Field("", description="one line: what the call gave back")
    error: str | None = None
    duration_ms: int = 0
    sources: list[int] = Field(default_factory=list, description="numbers of the passages it gave, citable as [n]")
    protocol: Literal["tools", "react"] = Field(
        "tools", description="how the model asked: OpenAI tool calling or the ReAct text protocol")

    @property
    def shown(self) -> str:
        """The step as one line of text (the CLI's ``--trace``)."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        outcome = self.summary if self.status == "ok" else f"{self.status}: {self.error or self.summary}"
        return f"{self.step}. {self.tool}({args}) → {outcome} [{self.duration_ms} ms]"


class ApprovalRequest(BaseModel):
    """The answer waits for the user: the model asked to call a tool that acts on the world. The client
    approves or denies with ``POST /api/chat/approvals/{id}`` (``{"approve": true}``) within
    ``timeout_s``; no decision in time is a denial. Only answers that asked for approvals (a stream
    whose client can answer) send it; the others refuse such a call."""

    type: Literal["approval_request"] = "approval_request"
    id: str
    step: int
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    description: str = Field("", description="what the tool does, as the model was told")
    timeout_s: float
