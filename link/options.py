"""How the capture process is launched: its options, checks before launching, its environment.

The session token goes into the child's environment, never onto its command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..capture.model import path_problem
from ..capture.protocol import TOKEN_ENV, Start, landmarker_key
from .errors import LaunchError


@dataclass
class CaptureOptions:
    """Everything needed to launch the capture process; built from the settings by the operator."""

    source: str  # a video path or "webcam:N"
    interpreter: str
    python_path: list[str] = field(default_factory=list)  # PYTHONPATH entries, add-on folder first
    env: dict[str, str] = field(default_factory=dict)  # extra environment (e.g. PYTHONNOUSERSITE)
    model: str = ""
    preview_fps: float = 5.0
    realtime: bool = True
    loop: bool = False  # live only: play a video file over and over
    num_faces: int = 1
    min_face_detection_confidence: float = 0.5
    min_face_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    mirror: bool = False
    import_processes: int = 0  # offline: at most this many tracking processes, 0 = one per CPU core
    extra_args: list[str] = field(default_factory=list)

    def capture_args(self) -> list[str]:
        """Command-line options shared by live and offline runs (never the token)."""
        args = ["--source", self.source, *self.landmarker_args()]
        if self.mirror:
            args.append("--mirror")
        return args + list(self.extra_args)

    def landmarker_args(self) -> list[str]:
        """The options the capture process makes its FaceLandmarker with (a process in standby gets only these)."""
        args = ["--num-faces", str(self.num_faces),
                "--min-face-detection-confidence", f"{self.min_face_detection_confidence:g}",
                "--min-face-presence-confidence", f"{self.min_face_presence_confidence:g}",
                "--min-tracking-confidence", f"{self.min_tracking_confidence:g}"]
        return args + (["--model", self.model] if self.model else [])

    def landmarker_key(self) -> dict[str, str]:
        """landmarker_args() as a process in standby compares them (protocol.Start.landmarker)."""
        return landmarker_key(self.model, "VIDEO", self.num_faces, self.min_face_detection_confidence,
                              self.min_face_presence_confidence, self.min_tracking_confidence)

    def standby_key(self) -> tuple:
        """What a process in standby was started with: a capture with another key needs a new process."""
        return (self.interpreter, tuple(self.python_path), tuple(sorted(self.env.items())),
                tuple(sorted(self.landmarker_key().items())))

    def start_message(self) -> Start | None:
        """The Start that hands this capture to a process in standby; None when it needs a process
        of its own (command-line options a Start does not carry)."""
        extra = dict(zip(self.extra_args[::2], self.extra_args[1::2]))
        if len(self.extra_args) % 2 or not set(extra) <= {"--width", "--height"}:
            return None
        return Start(source=self.source, landmarker=self.landmarker_key(), mirror=self.mirror,
                     realtime=self.realtime, loop=self.loop, preview_fps=self.preview_fps,
                     width=int(extra.get("--width", 0)), height=int(extra.get("--height", 0)))


def check_source(source: str) -> None:
    """Raise LaunchError when a video source cannot be read at all (cameras are checked by the child)."""
    if source.startswith("webcam:"):
        if not source[len("webcam:"):].isdigit():
            raise LaunchError(f"Camera '{source}' is not valid: use webcam:0, webcam:1, ...")
        return
    if not source:
        raise LaunchError("No source chosen: pick a video file or a camera in the Source box")
    path = Path(source)
    if not path.is_file():
        raise LaunchError(f"Video file not found: {source}. Choose an existing file in the Source box")
    if not os.access(path, os.R_OK):
        raise LaunchError(f"Video file {source} cannot be read (permissions): fix its permissions or copy it")


def check_interpreter(path: str) -> None:
    """Raise LaunchError when the capture interpreter does not exist or cannot be run."""
    if not path:
        raise LaunchError("No capture interpreter set: choose Bundled or a Python with mediapipe "
                          "in Preferences > Add-ons > Face Mocap")
    if not Path(path).is_file():
        raise LaunchError(f"Capture interpreter not found: {path}. Set a Python that has mediapipe in "
                          "Preferences > Add-ons > Face Mocap (or choose Bundled), then press Check")
    if not os.access(path, os.X_OK):
        raise LaunchError(f"Capture interpreter {path} is not executable: fix its permissions or pick another")


def check_options(options: CaptureOptions, source: bool = True) -> None:
    """Raise LaunchError when the interpreter, the source (unless not asked) or the model override is unusable."""
    check_interpreter(options.interpreter)
    if source:
        check_source(options.source)
    problem = path_problem(options.model) if options.model else ""
    if problem:
        raise LaunchError(f"Model override {options.model} {problem}. Fix the model path in "
                          "Preferences > Add-ons > Face Mocap, or clear it to use the bundled model")


def child_environment(token: str | None, python_path: list[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ours, the token, and PYTHONPATH = the add-on folder (+ wheels)."""
    env = dict(os.environ)
    env.update(extra or {})
    env.pop(TOKEN_ENV, None)
    if token is not None:
        env[TOKEN_ENV] = token
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    env["PYTHONUNBUFFERED"] = "1"  # progress lines and errors arrive as they are written
    return env


