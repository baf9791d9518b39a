"""Chat modes built on the chat models of ``zhiku.llm``: knowledge-base chat (``kb``), its
prompt templates (``prompts/{zh,en}``), the context budget and the citation check."""
