"""What the access-log filter (zhiku.api.access_log) does to a request line: secret-named query
parameters and zk- keys are replaced, everything else is left as it came (the real server's log is
checked in tests/hardening/test_secrets_in_logs.py)."""

from __future__ import annotations

import logging

from zhiku.api.access_log import RedactSecrets, redact


def test_secret_values_are_replaced_and_the_rest_kept() -> None:
    assert redact("/api/kbs?limit=5&API-Key=s3cret&q=refund") == "/api/kbs?limit=5&API-Key=[redacted]&q=refund"
    assert redact("/v1/models?access%5Ftoken=abc;page=2") == "/v1/models?access%5Ftoken=[redacted];page=2"
    assert redact("/x?password=hunter2&client_secret=z&my_token=t") == (
        "/x?password=[redacted]&client_secret=[redacted]&my_token=[redacted]")
    assert redact("/api/kbs/zk-AbCdEf0123456789xyz/files") == "/api/kbs/[redacted]/files"  # a key in the path
    assert redact("/api/search?q=monkey&keyword=token&kb=a=b") == "/api/search?q=monkey&keyword=token&kb=a=b"
    assert redact("/api/kbs?key=") == "/api/kbs?key="  # nothing to hide


def test_the_filter_rewrites_uvicorns_record_and_drops_nothing() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/api/kbs?token=abc", "1.1", 401), None)
    assert RedactSecrets().filter(record) is True
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/kbs?token=[redacted] HTTP/1.1" 401'
