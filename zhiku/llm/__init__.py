"""Chat models: the protocol (``base``), one OpenAI-compatible client for every server
(``openai_compat``, presets in ``presets``), in-process llama.cpp (``local``, zhiku[local]),
the registry of configured / pulled / detected models (``registry``), `zhiku model pull`
(``pull``) and the extractive answerer used when no model is configured (``extractive``)."""
