"""zhiku as an MCP server: the user's knowledge bases as tools for any MCP client (an IDE or
desktop assistant).

- :mod:`zhiku.mcp.tools`: what each tool does, over a ``Zhiku`` app and the caller (a
  ``Principal``): list the KBs, search, read a chunk or a page, ask (the answer pipeline). Only
  the KBs the caller may read exist for them; bad arguments are tool errors with the reason.
- :mod:`zhiku.mcp.server`: those tools as an ``MCPServer`` of the official ``mcp`` package, and
  the stdio transport of ``zhiku mcp serve`` (the caller is the local user, as on the CLI).
- :mod:`zhiku.mcp.http`: the same tools over streamable HTTP at ``/mcp`` of the running server,
  behind the API's bearer keys (401 without one, 403 without the read scope) and its edge
  (Host and Origin checks).
"""
