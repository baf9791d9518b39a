"""The agent: tools (one more kind of plugin) and the loop that lets a chat model call them.

``zhiku.agent.base`` holds what a tool is (``Tool``, ``ToolSpec``, ``ToolContext``, ``ToolResult``);
the built-in tools, the table questions and the loop live beside it. The answer pipeline
(``zhiku.chat``) runs the agent as one more mode.
"""
