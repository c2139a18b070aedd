"""One worker's share of a video file: the frames whose timestamps fall in [warmup_from_us, stop_us).

OpenCV's seek can land a few frames before or after the asked-for time (it depends on the
container), but the timestamp it reports for the frame it lands on is right (checked on
every clip in ../shared/facedata). So this source seeks, checks where it landed, seeks
further back while it landed too late, and grabs forward (decoding, not converting) up to
the first frame it wants. Frames are told apart by timestamp alone, so the segments of one
clip hold every frame exactly once. Indices count from 0 within the segment: the merge
numbers the frames of the whole take.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import cv2

from .sources import VideoFileSource, VideoFrame, _Timestamps, _to_rgb

FIRST_STEP_BACK_MS = 1000.0  # a seek that lands too late is retried this much earlier, doubling


class VideoSegmentSource(VideoFileSource):
    """A video file from (at or before) warmup_from_us up to stop_us (None: to the end)."""

    # Every core already tracks a segment of its own: decoder threads would only add their
    # hand-offs (1.5 against 0.9 ms of CPU a frame on the 640x360 Pexels clip).
    decode_threads = 1

    def __init__(self, path: Path, warmup_from_us: int, stop_us: int | None, mirror: bool = False) -> None:
        super().__init__(path, mirror)  # opens and checks the file, as a whole-file import does
        self.warmup_from_us = warmup_from_us
        self.stop_us = stop_us
        self.total = None  # unknown until read: the segment's length in frames depends on the cut

    def frames(self, stop: threading.Event | None = None) -> Iterator[VideoFrame]:
        stamps = self._seek() if self.warmup_from_us > 0 else None
        if stamps is None:  # the first segment, or no seek landed early enough: from the start
            yield from self._wanted(super().frames(stop))
            return
        index = 0
        for us in stamps:
            if self.stop_us is not None and us >= self.stop_us:
                break
            if us < self.warmup_from_us:
                continue  # decoded by grab() only, never converted
            ok, bgr = self._cap.retrieve()
            if not ok:
                break
            yield VideoFrame(index, us, _to_rgb(bgr, self.mirror))
            index += 1
        self.total = index

    def _wanted(self, frames: Iterator[VideoFrame]) -> Iterator[VideoFrame]:
        index = 0
        for frame in frames:
            if self.stop_us is not None and frame.timestamp_us >= self.stop_us:
                break
            if frame.timestamp_us >= self.warmup_from_us:
                yield VideoFrame(index, frame.timestamp_us, frame.rgb)
                index += 1
        self.total = index

    def _seek(self) -> Iterator[int] | None:
        """Timestamps of the frames grabbed from a seek that landed at or before warmup_from_us."""
        self._first = None
        target_ms = self.warmup_from_us / 1000.0
        seek_ms, step = target_ms, FIRST_STEP_BACK_MS
        while seek_ms > 0.0:
            self._cap.set(cv2.CAP_PROP_POS_MSEC, seek_ms)
            if self._cap.grab():
                landed_us = round(self._cap.get(cv2.CAP_PROP_POS_MSEC) * 1000.0)
                if 0 < landed_us <= self.warmup_from_us:
                    return self._grabbed_from(landed_us)
            seek_ms, step = target_ms - step, step * 2.0
        self._reopen()
        return None

    def _grabbed_from(self, first_us: int) -> Iterator[int]:
        stamp = _Timestamps()
        period_us = round(1e6 / self.fps)
        us = stamp(first_us)
        while True:
            yield us
            if not self._cap.grab():
                return
            ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            # a container that reports no position: the nominal rate from the last frame
            us = stamp(round(ms * 1000.0) if ms > 0 else us + period_us)

    def _reopen(self) -> None:
        self._cap.release()
        self._cap = self._open()
        ok, self._first = self._cap.read()
        if not ok:
            self._first = None
