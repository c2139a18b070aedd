"""Frame sources: a webcam, a video file (with its own timestamps), or images.

Every source yields VideoFrame objects: RGB pixels, a frame index and a timestamp in
microseconds that strictly increases, which MediaPipe's VIDEO mode requires.
"""

from __future__ import annotations

import datetime
import queue
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .container_timecode import StartTimecode, container_timecode, wall_clock
from .errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
_WEBCAM = re.compile(r"^(?:webcam|camera|cam):(\d+)$")


@dataclass
class VideoFrame:
    """One decoded image and when it was taken."""

    index: int
    timestamp_us: int
    rgb: np.ndarray  # (H, W, 3) uint8

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


class Source:
    """Base class: `frames()` yields VideoFrames until the input ends."""

    description = ""
    total: int | None = None  # number of frames when known in advance
    fps = 0.0  # nominal frame rate
    is_live = False  # a camera: never ends by itself, frames may be skipped

    def frames(self, stop: threading.Event | None = None) -> Iterator[VideoFrame]:
        """Decoded frames in order; a live source also ends when `stop` is set."""
        raise NotImplementedError

    def start_timecode(self, first_us: int) -> StartTimecode | None:
        """The timecode of the frame stamped first_us, the first one kept; None when unknown."""
        return None

    def close(self) -> None:
        """Release the device or file."""


def _to_rgb(bgr: np.ndarray, mirror: bool) -> np.ndarray:
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return cv2.flip(rgb, 1) if mirror else rgb


class _Timestamps:
    """Makes timestamps strictly increasing (containers sometimes repeat or omit them)."""

    def __init__(self) -> None:
        self.last = -1

    def __call__(self, timestamp_us: int) -> int:
        self.last = max(int(timestamp_us), self.last + 1)
        return self.last


class VideoFileSource(Source):
    """A video file decoded with OpenCV; timestamps come from the container."""

    decode_threads = 0  # OpenCV's choice (one per core)

    def __init__(self, path: Path, mirror: bool = False) -> None:
        self.path = path
        self.mirror = mirror
        self.description = path.name
        self._cap = self._open()
        if not self._cap.isOpened():
            raise InputError(f"cannot open video '{path}': not a video file, damaged, or an unsupported format")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not 0.0 < self.fps < 1000.0:
            self.fps = 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.total = count if count > 0 else None
        ok, self._first = self._cap.read()
        if not ok or self._first is None:
            self._cap.release()
            raise InputError(f"video '{path}' has no readable frames")
        self.size = (int(self._first.shape[1]), int(self._first.shape[0]))  # (width, height)

    def _open(self) -> cv2.VideoCapture:
        if not self.decode_threads:
            return cv2.VideoCapture(str(self.path))
        return cv2.VideoCapture(str(self.path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, self.decode_threads])

    def start_timecode(self, first_us: int) -> StartTimecode | None:
        """The container's, moved on to the first kept frame (timestamps are the container's)."""
        timecode = container_timecode(self.path, self.fps)
        return timecode.later(first_us / 1e6) if timecode is not None else None

    def frames(self, stop: threading.Event | None = None) -> Iterator[VideoFrame]:
        stamp = _Timestamps()
        index, bgr = 0, self._first
        self._first = None
        while bgr is not None:
            ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
            # Some containers report no position; fall back to the nominal rate.
            us = round(ms * 1000.0) if (ms > 0 or index == 0) else round(index * 1e6 / self.fps)
            yield VideoFrame(index, stamp(us), _to_rgb(bgr, self.mirror))
            index += 1
            ok, bgr = self._cap.read()
            if not ok:
                bgr = None
        self.total = index

    def close(self) -> None:
        self._cap.release()


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageSource(Source):
    """One image or a folder of images (sorted by name), spaced 1/fps apart in time."""

    def __init__(self, path: Path, fps: float = 30.0, mirror: bool = False) -> None:
        if path.is_dir():
            files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                           key=_natural_key)
            if not files:
                raise InputError(f"folder '{path}' has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        else:
            files = [path]
        self.files = files
        self.fps = fps if fps and fps > 0 else 30.0
        self.mirror = mirror
        self.total = len(files)
        self.description = path.name
        self._first = self._read(files[0])

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"cannot read image '{path}': not an image or damaged")
        return bgr

    def frames(self, stop: threading.Event | None = None) -> Iterator[VideoFrame]:
        for index, path in enumerate(self.files):
            bgr = self._first if index == 0 else self._read(path)
            yield VideoFrame(index, round(index * 1e6 / self.fps), _to_rgb(bgr, self.mirror))


class CameraSource(Source):
    """A webcam read by a background thread that keeps only the newest frame (no lag builds up)."""

    is_live = True
    stall_timeout_s = 5.0

    def __init__(self, index: int, width: int | None = None, height: int | None = None,
                 fps: float | None = None, mirror: bool = False, open_timeout_s: float = 5.0) -> None:
        self.description = f"webcam:{index}"
        self.mirror = mirror
        # V4L2 directly on Linux: the default probe tries other camera back ends first.
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        self._cap = cv2.VideoCapture(index, backend)
        if not self._cap.isOpened():
            raise InputError(f"no camera at index {index} (webcam:{index}): it does not exist or is in use")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, fps)
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or fps or 30.0)
        self._latest: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._t0_clock = datetime.datetime.now(datetime.timezone.utc)  # the same instant on the wall clock
        self._thread = threading.Thread(target=self._grab, name="camera", daemon=True)
        self._thread.start()
        try:
            self._pending = self._latest.get(timeout=open_timeout_s)
        except queue.Empty:
            self.close()
            raise InputError(f"camera {index} opened but delivered no image within {open_timeout_s:g} s") from None
        if self._pending is None:
            self.close()
            raise InputError(f"camera {index} opened but delivered no image")

    def start_timecode(self, first_us: int) -> StartTimecode | None:
        """The recording clock: the wall-clock time of day the first kept frame was grabbed."""
        when = self._t0_clock + datetime.timedelta(microseconds=first_us)
        return wall_clock(when, self.fps, "recording clock")

    def _grab(self) -> None:
        while not self._stop.is_set():
            ok, bgr = self._cap.read()
            item = (round((time.monotonic() - self._t0) * 1e6), bgr) if ok else None
            try:  # latest wins: drop the unread frame
                self._latest.get_nowait()
            except queue.Empty:
                pass
            self._latest.put(item)
            if not ok:
                return

    def frames(self, stop: threading.Event | None = None) -> Iterator[VideoFrame]:
        stamp = _Timestamps()
        index, item = 0, self._pending
        stop = stop or self._stop
        while item is not None and not stop.is_set():
            us, bgr = item
            yield VideoFrame(index, stamp(us), _to_rgb(bgr, self.mirror))
            index += 1
            waited = 0.0
            while not stop.is_set():
                try:
                    item = self._latest.get(timeout=0.25)
                    break
                except queue.Empty:
                    waited += 0.25
                    if waited >= self.stall_timeout_s:
                        raise InputError(f"{self.description} delivered no image for {waited:g} s") from None
        if item is None:
            raise InputError(f"{self.description} stopped delivering images (unplugged?)")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._cap.release()


class LoopedSource(Source):
    """Plays a file source over and over (rig tuning, soak tests); never ends by itself.

    Each pass reopens the input; indices and timestamps carry on across passes, so the
    stream looks like one long recording."""

    def __init__(self, open_pass: Callable[[], Source]) -> None:
        self._open_pass = open_pass
        self._current = open_pass()
        self.description = f"{self._current.description} (looped)"
        self.fps = self._current.fps

    def frames(self, stop: threading.Event | None = None) -> Iterator[VideoFrame]:
        index, offset_us, last_us = 0, 0, -1
        period_us = round(1e6 / self.fps)
        while stop is None or not stop.is_set():
            produced = 0
            for frame in self._current.frames(stop):
                last_us = offset_us + frame.timestamp_us
                yield VideoFrame(index, last_us, frame.rgb)
                index += 1
                produced += 1
            if produced == 0:
                return  # an input that became empty must not spin
            self._current.close()
            offset_us = last_us + period_us
            self._current = self._open_pass()

    def close(self) -> None:
        self._current.close()


def open_source(spec: str, width: int | None = None, height: int | None = None,
                fps: float | None = None, mirror: bool = False, loop: bool = False) -> Source:
    """Open `webcam:N`, a video file, an image file or a folder of images (files: `loop` forever)."""
    match = _WEBCAM.match(spec.strip())
    if match:
        return CameraSource(int(match.group(1)), width, height, fps, mirror)
    path = Path(spec).expanduser()
    if not path.exists():
        raise InputError(f"input '{spec}' does not exist (expected a video file, an image folder or webcam:N)")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        def open_pass() -> Source:
            return ImageSource(path, fps or 30.0, mirror)
    else:
        def open_pass() -> Source:
            return VideoFileSource(path, mirror)
    return LoopedSource(open_pass) if loop else open_pass()


def prefetch(frames: Iterator[VideoFrame], depth: int = 8) -> Iterator[VideoFrame]:
    """Decode ahead in a thread so decoding overlaps inference."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
            put(done)
        except BaseException as exc:  # hand decoding errors to the consumer
            put(exc)

    thread = threading.Thread(target=produce, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=2.0)
