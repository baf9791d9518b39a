"""Chat modes built on the chat models of ``zhiku.llm``: knowledge-base chat (``kb``, with its
prompt templates ``prompts/{zh,en}``, the context budget and the citation check), LLM chat
(``llm``), file chat over temporary knowledge bases (``files``) and web chat (``web``); one answer
in any mode (``modes``, run on its own thread by ``turns``); conversations, their messages and
feedback kept in the database (``conversations``, ``records``) and exported as Markdown (``export``)."""
