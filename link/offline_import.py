"""Import Video: `python -m capture --source VIDEO --out TAKE --progress jsonl`, polled for progress."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..capture.segments import remove_segments
from ..capture.takes import PARTIAL_SUFFIX
from .options import CaptureOptions, check_options, child_environment
from .process import ChildProcess


@dataclass
class ImportProgress:
    """Where an offline import stands."""

    done: int = 0
    total: int = 0
    finished: bool = False
    error: str = ""


class OfflineImport:
    """`python -m capture --source VIDEO --out TAKE --progress jsonl`, polled for progress."""

    def __init__(self, options: CaptureOptions, out_path: str | os.PathLike) -> None:
        check_options(options)
        self.source = options.source
        self.out_path = Path(out_path)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self._progress = ImportProgress()
        self._lock = threading.Lock()
        args = [options.interpreter, "-m", "capture", *options.capture_args(),
                "--out", str(self.out_path), "--progress", "jsonl", "--processes", str(options.import_processes)]
        self.child = ChildProcess(args, child_environment(None, options.python_path, options.env), self._on_line)

    def _on_line(self, line: str) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if isinstance(obj, dict) and isinstance(obj.get("done"), int):
            with self._lock:
                self._progress.done = obj["done"]
                if isinstance(obj.get("total"), int):
                    self._progress.total = obj["total"]

    def poll(self) -> ImportProgress:
        """Progress so far; finished with error '' when the take is written."""
        code = self.child.returncode()
        with self._lock:
            progress = ImportProgress(**vars(self._progress))
        if code is None:
            return progress
        self.child.stop()
        progress.finished = True
        if code != 0 or not self.out_path.is_file():
            progress.error = self.child.describe_failure(self.source)
        return progress

    def cancel(self) -> None:
        """Stop the child (and its segment processes: one process group) and remove anything they
        left behind (after they are gone: Windows cannot delete a file another process has open)."""
        self.child.stop(wait=True)
        self.out_path.with_name(self.out_path.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
        remove_segments(self.out_path)
