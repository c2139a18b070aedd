"""What the command line asks for, as plain data (standard library only).

Kept free of numpy, OpenCV and MediaPipe so that a process can read its options, and an
import on all cores can start its tracking processes, before those load (0.4 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

RUNNING_MODES = ("VIDEO", "LIVE_STREAM")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


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
        from .protocol import MAX_FACES  # the wire format's limit (protocol.py loads numpy)

        if self.running_mode not in RUNNING_MODES:
            raise UsageError(f"running mode must be one of {', '.join(RUNNING_MODES)}, not {self.running_mode}")
        if not 1 <= self.num_faces <= MAX_FACES:
            raise UsageError(f"num_faces must be between 1 and {MAX_FACES}, not {self.num_faces}")
        for name in ("min_face_detection_confidence", "min_face_presence_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, not {value}")


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
