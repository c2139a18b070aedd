"""One MediaPipe FaceLandmarker per process, created once, turning images into FaceFrames."""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import ModelError, UsageError
from .mediapipe_arrays import DirectVideoDetect
from .mediapipe_face import face_landmarker_api
from .protocol import MAX_FACES, Face, FaceFrame
from .sources import VideoFrame

RUNNING_MODES = ("VIDEO", "LIVE_STREAM")


@dataclass
class LandmarkerOptions:
    """FaceLandmarker options under MediaPipe's own names; blendshapes and matrices are always on."""

    running_mode: str = "VIDEO"
    num_faces: int = 1
    min_face_detection_confidence: float = 0.5
    min_face_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def check(self) -> None:
        """Raise UsageError for values MediaPipe would reject or misbehave on."""
        if self.running_mode not in RUNNING_MODES:
            raise UsageError(f"running mode must be one of {', '.join(RUNNING_MODES)}, not {self.running_mode}")
        if not 1 <= self.num_faces <= MAX_FACES:
            raise UsageError(f"num_faces must be between 1 and {MAX_FACES}, not {self.num_faces}")
        for name in ("min_face_detection_confidence", "min_face_presence_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, not {value}")


@contextlib.contextmanager
def quiet_native_logs(enabled: bool = True) -> Iterator[None]:
    """Hide MediaPipe's C++ start-up chatter on stderr (fd 2) so our one error line stands out."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def faces_of(result) -> list[Face]:
    """A FaceLandmarkerResult's faces as plain arrays."""
    faces = []
    for i, landmarks in enumerate(result.face_landmarks[:MAX_FACES]):
        points = np.array([(p.x, p.y, p.z) for p in landmarks], dtype=np.float32)
        scores = np.array([c.score for c in result.face_blendshapes[i]], dtype=np.float32)
        matrix = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32).reshape(4, 4)
        faces.append(Face(landmarks=points, blendshapes=scores, transform=matrix))
    return faces


class Landmarker:
    """The process's single FaceLandmarker.

    VIDEO mode: detect() returns each frame's result. LIVE_STREAM mode: submit() frames and
    collect (VideoFrame, FaceFrame) pairs from results(); MediaPipe may skip frames when busy.
    """

    def __init__(self, model_path: Path, options: LandmarkerOptions, quiet: bool = True) -> None:
        options.check()
        self.options = options
        self._last_ms = -1
        self._pending: dict[int, VideoFrame] = {}
        self._results: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        with quiet_native_logs(quiet):
            vision = face_landmarker_api()
            live = options.running_mode == "LIVE_STREAM"
            mp_options = vision.FaceLandmarkerOptions(
                base_options=vision.BaseOptions(model_asset_path=str(model_path)),
                running_mode=getattr(vision.RunningMode, options.running_mode),
                num_faces=options.num_faces,
                min_face_detection_confidence=options.min_face_detection_confidence,
                min_face_presence_confidence=options.min_face_presence_confidence,
                min_tracking_confidence=options.min_tracking_confidence,
                output_face_blendshapes=True,
                output_facial_transformation_matrixes=True,
                result_callback=self._on_result if live else None,
            )
            self._api = vision
            try:
                self._task = vision.FaceLandmarker.create_from_options(mp_options)
            except (RuntimeError, ValueError, OSError) as exc:
                raise ModelError(f"MediaPipe cannot load the model '{model_path}': {exc}") from None
        # VIDEO mode reads results as arrays where this MediaPipe allows it (a tenth of a frame's CPU)
        self._direct = None if live else DirectVideoDetect.for_task(self._task)
        self._quiet_first = quiet  # the first inference prints more chatter

    def _next_ms(self, timestamp_us: int) -> int:
        # MediaPipe wants strictly increasing integer milliseconds.
        self._last_ms = max(timestamp_us // 1000, self._last_ms + 1)
        return self._last_ms

    def _image(self, frame: VideoFrame):
        api = self._api
        return api.Image(image_format=api.ImageFormat.SRGB, data=np.ascontiguousarray(frame.rgb))

    def detect(self, frame: VideoFrame) -> FaceFrame:
        """Run VIDEO-mode inference on one frame."""
        image, ms = self._image(frame), self._next_ms(frame.timestamp_us)
        with quiet_native_logs(self._quiet_first):
            faces = self._direct(image, ms) if self._direct else faces_of(self._task.detect_for_video(image, ms))
        self._quiet_first = False
        width, height = frame.size
        return FaceFrame(frame.index, frame.timestamp_us, width, height, faces)

    def submit(self, frame: VideoFrame) -> None:
        """Queue one frame for LIVE_STREAM inference."""
        ms = self._next_ms(frame.timestamp_us)
        with self._lock:
            self._pending[ms] = frame
        with quiet_native_logs(self._quiet_first):
            self._task.detect_async(self._image(frame), ms)
        self._quiet_first = False

    def _on_result(self, result, _image, timestamp_ms: int) -> None:
        with self._lock:
            frame = self._pending.pop(timestamp_ms, None)
            for stale in [ms for ms in self._pending if ms < timestamp_ms]:
                del self._pending[stale]  # frames MediaPipe skipped
        if frame is not None:
            width, height = frame.size
            self._results.put((frame, FaceFrame(frame.index, frame.timestamp_us, width, height, faces_of(result))))

    def results(self, wait_s: float = 0.0) -> list[tuple[VideoFrame, FaceFrame]]:
        """LIVE_STREAM results that arrived so far (waiting up to wait_s for the first one)."""
        out = []
        try:
            out.append(self._results.get(timeout=wait_s) if wait_s > 0 else self._results.get_nowait())
            while True:
                out.append(self._results.get_nowait())
        except queue.Empty:
            pass
        return out

    @property
    def outstanding(self) -> int:
        """LIVE_STREAM frames submitted whose result has not arrived."""
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Release MediaPipe's graph (explicitly: its finaliser fails at interpreter exit)."""
        task, self._task = getattr(self, "_task", None), None
        if task is not None:
            task.close()

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
