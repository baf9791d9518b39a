"""Readers beside one writer, for the index contracts: the writer adds every batch, then removes
every other one; readers look batches up at random meanwhile. A batch found in part means a
reader saw half a write."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any


def readers_beside_writer(
    batches: int, add: Callable[[int], None], remove: Callable[[int], None],
    find: Callable[[int, random.Random], set[int]], whole: Callable[[int], set[int]], readers: int = 3,
) -> list[Any]:
    """The problems seen (exceptions, or batches found in part); empty when every read saw a
    batch whole or not at all. ``find(b, rng)``: the ids a search for batch ``b`` returns."""
    done = threading.Event()
    problems: list[Any] = []

    def writer() -> None:
        try:
            for b in range(batches):
                add(b)
            for b in range(0, batches, 2):
                remove(b)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            problems.append(exc)
        finally:
            done.set()

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not done.is_set() or rng.random() < 0.2:
                b = rng.randrange(batches)
                found = find(b, rng)
                if found and found != whole(b):
                    problems.append(f"batch {b}: {len(found)} of {len(whole(b))} ids")
        except Exception as exc:  # noqa: BLE001 - reported by the test
            problems.append(exc)

    threads = [threading.Thread(target=reader, args=(s,)) for s in range(readers)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return problems
