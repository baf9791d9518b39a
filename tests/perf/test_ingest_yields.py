"""Parsing a large file lets the server's other threads run (issue 18, item 3): paragraphs are found a
window at a time with the same result as one regex split of the whole text, and the parsing loops
hand the interpreter over (``breathe``) instead of keeping it for the whole switch interval."""

from __future__ import annotations

import random
import re
import sys
import threading

import pytest

from zhiku.errors import Cancelled
from zhiku.ingest.loaders import text as text_loader
from zhiku.ingest.loaders.limits import BREATHE_S, breathe, checkpoint, loading
from zhiku.ingest.loaders.text import paragraph_blocks, paragraph_spans

BREAK = re.compile(r"\n[ \t]*\n")


def _texts() -> list[str]:
    rng = random.Random(18)
    alphabet = ["\n", "\n", " ", "\t", "a", "知识", "。", "x. ", "\n \t\n", "\n\n", "\n\n\n"]
    out = ["", "\n", "\n\n", "a\n\nb", "a\n \t \nb", "a" * 50 + "\n" + " " * 30 + "\nb"]
    for _ in range(400):
        out.append("".join(rng.choice(alphabet) * rng.choice([1, 1, 2, 40]) for _ in range(rng.randint(1, 120))))
    return out


@pytest.mark.parametrize("window", [1, 2, 3, 7, 64, 1 << 20])
def test_paragraphs_found_a_window_at_a_time_are_those_of_one_split(window):
    for text in _texts():
        pieces = [text[a:b] for a, b in paragraph_spans(text, window)]
        assert pieces == BREAK.split(text), (window, text)


def test_a_blank_line_across_a_window_edge_still_separates_paragraphs():
    text = "first paragraph" + "\n" + " \t" * 20 + "\n" + "second"
    # the break starts inside the first 20-character window and ends far past it
    assert [text[a:b] for a, b in paragraph_spans(text, 20)] == ["first paragraph", "second"]


def test_a_whole_file_without_blank_lines_is_cut_into_blocks_as_before(monkeypatch):
    line = "知识库问答系统需要处理很大的上传文件。Uploads must never block other requests. " * 20
    text = "\n".join([line] * 300) + "\n"
    monkeypatch.setattr(text_loader, "WINDOW", 4096)  # many windows over a 400 kB paragraph
    blocks = paragraph_blocks(text, ("s",))
    assert len(blocks) > 100 and all(len(b.text) <= 2 * text_loader.MAX_PARAGRAPH for b in blocks)
    assert "\n".join(b.text for b in blocks) == text.rstrip()  # nothing lost, nothing repeated
    assert all(b.section == ("s",) for b in blocks)


def test_breathe_hands_the_interpreter_to_a_waiting_thread():
    """With the switch interval set far beyond the test, another thread runs during a loop only
    when the loop itself lets go of the interpreter."""
    go, ran = threading.Event(), threading.Event()

    def other() -> None:
        go.wait()  # blocked without the interpreter until the loop below begins
        ran.set()

    worker = threading.Thread(target=other)
    worker.start()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        go.set()  # the worker wakes and now waits for the interpreter, which this loop holds
        spins = 0
        while not ran.is_set() and spins < 20_000_000:
            breathe()
            spins += 1
        ran_during_the_loop = ran.is_set()
    finally:
        sys.setswitchinterval(old)
    worker.join()
    assert ran_during_the_loop
    assert BREATHE_S <= 0.01  # a hand-over at least every 10 ms


def test_checkpoint_still_stops_a_cancelled_load():
    with loading(None, lambda: True):
        with pytest.raises(Cancelled):
            checkpoint()
    with loading(None, lambda: False):
        checkpoint()  # not cancelled: goes on
