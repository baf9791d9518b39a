"""Stand-in for ``chatchat.utils`` (zhiku's tests): ``build_logger`` as a plain logger."""

import logging


def build_logger(name: str = "chatchat") -> logging.Logger:
    return logging.getLogger(name)
