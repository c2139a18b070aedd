"""The stages offline and live capture share: source -> landmarker -> (image, FaceFrame)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .landmarker import Landmarker, LandmarkerOptions
from .model import find_model
from .protocol import FaceFrame
from .errors import UsageError
from .segment_source import VideoSegmentSource
from .sources import IMAGE_SUFFIXES, Source, VideoFrame, open_source, prefetch


@dataclass
class CaptureSettings:
    """Everything the command line says about what to capture and how (no transport)."""

    source: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    mirror: bool = False
    model: str | None = None
    landmarker: LandmarkerOptions = None  # type: ignore[assignment]
    max_frames: int | None = None
    realtime: bool = False
    loop: bool = False  # play a file source over and over
    quiet_native_logs: bool = True
    segment: tuple[int, int, int | None] | None = None  # (warm-up from, keep from, stop) in us: one worker's share

    def __post_init__(self) -> None:
        if self.landmarker is None:
            self.landmarker = LandmarkerOptions()


def is_video_file(spec: str) -> bool:
    """True for a source that is a file and not an image (a camera or an image folder is not)."""
    path = Path(spec).expanduser()
    return path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES


def open_segment(spec: str, segment: tuple[int, int, int | None], mirror: bool) -> Source:
    """One worker's share of a video file (--segment)."""
    if not is_video_file(spec):
        raise UsageError(f"--segment needs a video file, not '{spec}'")
    path = Path(spec).expanduser()
    warmup_from_us, _keep_from_us, stop_us = segment
    return VideoSegmentSource(path, warmup_from_us, stop_us, mirror)


def open_inputs(settings: CaptureSettings) -> tuple[Path, Source]:
    """Check the options, find and verify the model and open the source (nothing is written yet)."""
    model_path = checked_model(settings)
    return model_path, open_input(settings)


def checked_model(settings: CaptureSettings) -> Path:
    """Check the landmarker options; the model file, found and verified."""
    settings.landmarker.check()
    return find_model(settings.model)


def open_input(settings: CaptureSettings) -> Source:
    """Open the source: the camera, video or images (a standby process does this only on Start)."""
    if settings.segment is not None:
        return open_segment(settings.source, settings.segment, settings.mirror)
    return open_source(settings.source, settings.width, settings.height, settings.fps, settings.mirror,
                       settings.loop)


class Pacer:
    """Holds frames back to their own timestamps so a video file plays in real time."""

    def __init__(self) -> None:
        self._offset: float | None = None

    def wait(self, timestamp_us: int, stop: threading.Event, idle: Callable[[], None] | None = None) -> None:
        """Sleep until the frame is due, calling idle() at least every 0.25 s."""
        now = time.monotonic()
        if self._offset is None:
            self._offset = now - timestamp_us / 1e6
        due = self._offset + timestamp_us / 1e6
        while not stop.is_set() and (remaining := due - time.monotonic()) > 0:
            stop.wait(min(remaining, 0.25))
            if idle:
                idle()


def track(source: Source, landmarker: Landmarker, stop: threading.Event, max_frames: int | None = None,
          realtime: bool = False, idle: Callable[[], None] | None = None) -> Iterator[tuple[VideoFrame, FaceFrame]]:
    """Yield (image, result) for each frame until the input ends, `stop` is set or max_frames."""
    frames = source.frames(stop) if source.is_live else prefetch(source.frames())
    pacer = Pacer() if realtime and not source.is_live else None
    streaming = landmarker.options.running_mode == "LIVE_STREAM"
    try:
        for count, frame in enumerate(frames):
            if stop.is_set() or (max_frames is not None and count >= max_frames):
                break
            if pacer:
                pacer.wait(frame.timestamp_us, stop, idle)
            if streaming:
                landmarker.submit(frame)
                yield from landmarker.results()
            else:
                yield frame, landmarker.detect(frame)
        deadline = time.monotonic() + 2.0
        while streaming and landmarker.outstanding and time.monotonic() < deadline and not stop.is_set():
            yield from landmarker.results(wait_s=0.1)
    finally:
        close = getattr(frames, "close", None)
        if close:
            close()
