"""The tracking processes of an import on all cores, both ends of the pipe (standard library only).

Each is started with its share of the clip, `--segment K/N` (the K-th of N), opens the clip
and finds its own cut exactly as the import does (`segments.plan_shares`, from the clip's
frame count and rate). For MP4 and QuickTime files, whose headers give the frame count, the
import starts them first thing, before it loads numpy or OpenCV or opens the clip itself, so
their start-up and its own overlap; for other containers, once OpenCV has read the length.
A worker the clip turns out too short for leaves before loading MediaPipe. Its stdin closing
tells a worker its parent is gone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from .errors import CaptureProcessError
from .mp4_boxes import video_frame_count
from .segments import available_memory, remove_segments, segment_count, segment_folder, share_argument, worker_count
from .settings import CaptureSettings, is_video_file

POLL_S = 0.05


class WorkerFailed(CaptureProcessError):
    """A segment's capture process failed; carries its exit code and its one-line error."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SegmentWorker:
    """One tracking process, its progress and its last words."""

    def __init__(self, command: list[str], path: Path) -> None:
        self.path = path
        self.done = 0
        self.summary: dict = {}
        self.errors: list[str] = []
        # Windows: no console window of its own (the import runs without one)
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        self._readers = [threading.Thread(target=self._read_progress, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_progress(self) -> None:
        for line in self.proc.stdout:
            try:
                update = json.loads(line)
            except ValueError:
                continue
            if isinstance(update, dict) and isinstance(update.get("done"), int):
                self.done = update["done"]
            elif isinstance(update, dict) and isinstance(update.get("summary"), dict):
                self.summary = update["summary"]

    def _read_errors(self) -> None:
        for line in self.proc.stderr:
            self.errors = (self.errors + [line.rstrip()])[-20:]

    def finished(self) -> bool:
        """True once the process has ended and its output is read."""
        if self.proc.poll() is None:
            return False
        for reader in self._readers:
            reader.join()
        return True

    def failure(self) -> WorkerFailed:
        last = next((line for line in reversed(self.errors) if line.startswith("error: ")), "")
        message = last.removeprefix("error: ") or f"a tracking process exited with code {self.proc.returncode}"
        return WorkerFailed(message, self.proc.returncode or 1)

    def stop(self) -> None:
        """End the process (it is asked first: SIGTERM) and wait for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()


def worker_command(settings: CaptureSettings, out: Path, share: str) -> list[str]:
    """`python -m capture` for one share of the clip, with the same MediaPipe options as the
    whole import; the model is found as this process finds it, unless the command line named one."""
    options = settings.landmarker
    command = [sys.executable, "-m", __package__, "--source", settings.source, "--out", str(out),
               "--segment", share, "--progress", "jsonl",
               "--num-faces", str(options.num_faces),
               "--min-face-detection-confidence", repr(options.min_face_detection_confidence),
               "--min-face-presence-confidence", repr(options.min_face_presence_confidence),
               "--min-tracking-confidence", repr(options.min_tracking_confidence)]
    command += ["--model", str(settings.model)] if settings.model else []
    return command + (["--mirror"] if settings.mirror else [])


def worker_take(out: Path, index: int) -> Path:
    """Where the index-th worker of an import into `out` writes its segment take."""
    return segment_folder(out) / f"{index:03d}.fmtake"


def may_split(settings: CaptureSettings, processes: int, rerun: bool) -> bool:
    """Whether an import could run in segments: a video file (never a camera: it cannot be
    opened twice), all of it, more than one process allowed."""
    return (processes != 1 and not rerun and settings.max_frames is None and settings.segment is None
            and is_video_file(settings.source))


def start_workers(settings: CaptureSettings, out: Path, count: int) -> list[SegmentWorker]:
    """`count` tracking processes, each with its share (none if fewer than 2: not worth it)."""
    if count < 2:
        return []
    remove_segments(out)  # what a killed earlier run left
    segment_folder(out).mkdir(parents=True)
    return [SegmentWorker(worker_command(settings, worker_take(out, k), share_argument(k, count)),
                          worker_take(out, k)) for k in range(count)]


def start_early(settings: CaptureSettings, out: Path, processes: int, rerun: bool) -> list[SegmentWorker]:
    """The workers of an import that can split its clip and whose length MP4 and QuickTime
    headers give: one per CPU (at most `processes`, 0 = no cap) within memory and the clip's
    length, started now. Other containers: none yet (the import starts them once OpenCV has
    read the length), so a short clip never starts workers it does not need."""
    frames = video_frame_count(settings.source) if may_split(settings, processes, rerun) else None
    if frames is None:
        return []
    return start_workers(settings, out, segment_count(frames, worker_count(processes, memory=available_memory())))


def stop_when_stdin_closes(stop: threading.Event) -> None:
    """A worker stops when its parent is gone (its end of our stdin closes), even if killed."""
    def watch() -> None:
        try:  # the raw descriptor: a thread blocked in sys.stdin would hold its lock at exit
            while os.read(0, 1024):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
