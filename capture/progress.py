"""Progress of offline processing: a bar on a terminal, or JSON lines for Blender to read."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

PROGRESS_MODES = ("auto", "bar", "jsonl", "none")


class Progress:
    """Reports `done` of `total` frames at most `rate_hz` times a second, plus a final update."""

    def __init__(self, mode: str, total: int | None, out: TextIO | None = None,
                 err: TextIO | None = None, rate_hz: float = 10.0) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        if mode == "auto":
            mode = "bar" if self.err.isatty() else "none"
        self.mode = mode
        self.total = total
        self._interval = 1.0 / rate_hz
        self._last = 0.0
        self._reported = -1
        self._start = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        """Report progress if enough time has passed (or always when forced)."""
        now = time.monotonic()
        if self.mode == "none" or (not force and now - self._last < self._interval) or done == self._reported:
            return
        self._last, self._reported = now, done
        total = max(self.total or 0, done)
        if self.mode == "jsonl":
            self.out.write(json.dumps({"done": done, "total": total}) + "\n")
            self.out.flush()
        else:
            fps = done / max(now - self._start, 1e-9)
            filled = int(30 * done / total) if total else 0
            self.err.write(f"\r[{'#' * filled}{'-' * (30 - filled)}] {done}/{total} frames  {fps:5.1f} fps")
            self.err.flush()

    def finish(self, done: int) -> None:
        """Final update; the total becomes what was actually read."""
        self.total = done
        self.update(done, force=True)
        if self.mode == "bar":
            self.err.write("\n")
            self.err.flush()
