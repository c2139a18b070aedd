"""The take being recorded during a live capture, streamed to disk as frames arrive.

Frames are appended on the receiver thread under a lock of their own, never under the
session's frame lock: a slow disk (a network share) never holds up Blender's tick. A full
disk stops the recording and keeps what was written as an interrupted take. No bpy here.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
from pathlib import Path

from ..capture import protocol
from ..capture.container_timecode import wall_clock
from ..capture.face_choice import Tracked
from ..capture.takes import TakeError, TakeWriter
from .errors import SessionError

log = logging.getLogger(__name__)


class TakeRecorder:
    """At most one take writer at a time, and the takes finished since they were last listed."""

    def __init__(self) -> None:
        self.writer: TakeWriter | None = None
        self._lock = threading.Lock()  # held while writing: the main thread only waits for it to start/stop
        self._done_lock = threading.Lock()
        self._finished: list[Path] = []
        self.image_size = (0, 0)  # of the frames coming in (the session sets it): the take's metadata
        self._clock_rate = 0.0  # the take's timecode rate (the scene's), for the recording clock
        self._first_arrival: datetime.datetime | None = None  # wall clock of the first frame written

    @property
    def recording(self) -> bool:
        return self.writer is not None

    def frames_appended(self) -> int:
        writer = self.writer  # read once: the receiver thread may drop it (a full disk)
        return writer.frames_appended if writer is not None else 0

    def start(self, path: str | os.PathLike, metadata: dict) -> None:
        """Stream every following frame to a take file at path.

        The take starts at the recording clock: the header has the time recording started (kept
        if Blender dies), the end marker the time the first frame arrived."""
        rate = float(metadata.get("scene_fps") or 30.0)
        clock = wall_clock(datetime.datetime.now(datetime.timezone.utc), rate, "recording clock")
        try:
            writer = TakeWriter(path, {**clock.metadata(), **metadata})
        except OSError as exc:
            raise SessionError(f"Cannot write the take to {path}: {exc.strerror or exc}. "
                               "Save the .blend somewhere writable") from None
        with self._lock:
            if self.writer is not None:
                writer.abort()
                raise SessionError("Already recording")
            self.writer = writer
            self._clock_rate, self._first_arrival = rate, None

    def append(self, frame: protocol.FaceFrame | Tracked) -> str:
        """Append a frame if recording (receiver thread); on a full disk stop and say what was kept."""
        with self._lock:
            writer = self.writer
            if writer is None:
                return ""
            if self._first_arrival is None:
                self._first_arrival = datetime.datetime.now(datetime.timezone.utc)
            try:
                writer.append(frame)
            except OSError:  # a full disk: keep what is written, stop recording, say how much
                self.writer = None
                _, problem = self._finish(writer)
                return f"Recording stopped: {problem}"
        return ""

    def stop(self) -> Path | None:
        """Finish the take being recorded (atomically); None when nothing was recording.

        SessionError when it cannot be finished (a full disk): what was written stays on
        disk as an interrupted take, is listed, and the message says how much was kept."""
        with self._lock:  # waits for a frame being written, never for the main thread's tick
            writer, self.writer = self.writer, None
            if writer is None:
                return None
            path, problem = self._finish(writer)
        if problem:
            raise SessionError(f"The take could not be finished: {problem}")
        return path

    def _finish(self, writer: TakeWriter) -> tuple[Path | None, str]:
        """Finish a take; on failure keep its .partial file listed. (path, problem in words)."""
        additions = {"frame_count": writer.frames_appended, "image_size": list(self.image_size)}
        if self._first_arrival is not None:
            additions.update(wall_clock(self._first_arrival, self._clock_rate, "recording clock").metadata())
        try:
            path = writer.finish(additions)
        except (OSError, TakeError) as exc:
            log.error("could not finish take %s: %s", writer.path, exc)
            path = writer.partial_path if writer.partial_path.exists() else None
            problem = str(exc)
        else:
            problem = ""
        if path is not None:
            with self._done_lock:
                self._finished.append(path)
        return path, problem

    def pop_finished(self) -> list[Path]:
        """Takes finished since the last call (also those closed by a full disk)."""
        with self._done_lock:
            takes, self._finished = self._finished, []
        return takes
