"""The answer pipeline (``pipeline``): one typed request in, typed events out, for every chat
mode, with retrieval once per question. Its parts: knowledge-base answers (``kb``, with its
prompt templates ``prompts/{zh,en}``, the context budget and the citation check), LLM chat
(``llm``), web-search answers (``web``), the evidence and the question's embedding shared by
them (``evidence``), file chat's temporary knowledge bases (``files``); one answer run on its own
thread (``turns``); conversations, their messages and feedback kept in the database
(``conversations``) and exported as Markdown (``export``)."""
