"""Calling a reader on a FIFO without letting a bug hang the test run.

Shared by the capture and mapping tiers (tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable


def call_beside_fifo(fifo: Path, call: Callable[[], object]) -> BaseException | None:
    """Run call() in a thread and return what it raised (None if nothing).

    A reader that opened the FIFO would wait for a writer forever; if the thread is still
    running after a generous wait, the other end is opened so it can end, and the test
    fails saying so. The wait is a safety net, not a timing: the readers only stat()."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the caller inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    blocked = thread.is_alive()
    if blocked:
        with open(fifo, "wb"):
            pass
        thread.join()
    assert not blocked, f"the reader opened the FIFO {fifo.name} and waited for a writer"
    return outcome.get("error")
