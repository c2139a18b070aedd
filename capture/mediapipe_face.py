"""MediaPipe's face landmarker without the rest of MediaPipe: a quarter-second start.

`import mediapipe` (and any `mediapipe.tasks.python...` import) runs the package
__init__ files, which import every task: the audio tasks (sounddevice, 0.2 s) and the
vision drawing helpers (matplotlib.pyplot, 0.4 s), none of which face landmarking uses.
Registering those four package modules unexecuted, with their real folders as search
paths, lets the face landmarker's own modules import exactly what they need; they are
the unmodified installed files. Only the capture process calls this.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# package __init__ files that import every task (containers: the audio ones); the rest is imported for real
_EAGER_PACKAGES = ("mediapipe", "mediapipe.tasks", "mediapipe.tasks.python", "mediapipe.tasks.python.vision",
                   "mediapipe.tasks.python.components", "mediapipe.tasks.python.components.containers")


def _package_without_init(name: str, folder: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)  # not executed: its imports are what we skip
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def _register_packages() -> None:
    if "mediapipe" in sys.modules:
        return  # already imported (the whole package, or by an earlier call)
    spec = importlib.util.find_spec("mediapipe")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'mediapipe'", name="mediapipe")
    root = Path(spec.submodule_search_locations[0])
    for name in _EAGER_PACKAGES:
        _package_without_init(name, root.joinpath(*name.split(".")[1:]))


@dataclass(frozen=True)
class FaceLandmarkerApi:
    """The names of mediapipe.tasks.python.vision (and mediapipe) that the capture process uses."""

    BaseOptions: type
    FaceLandmarker: type
    FaceLandmarkerOptions: type
    FaceLandmarksConnections: type
    RunningMode: type
    Image: type
    ImageFormat: type


def mediapipe_version() -> str:
    """The installed mediapipe's version, without importing the package."""
    from importlib import metadata

    try:
        return metadata.version("mediapipe")
    except metadata.PackageNotFoundError:  # files without their dist-info: the package says it
        spec = importlib.util.find_spec("mediapipe")
        text = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
        found = re.search(r"^__version__ = ['\"]([^'\"]+)", text, re.MULTILINE)
        return found.group(1) if found else "unknown"


def face_landmarker_api() -> FaceLandmarkerApi:
    """The face landmarker's classes, imported from its own modules only."""
    _register_packages()
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import face_landmarker
    from mediapipe.tasks.python.vision.core.image import Image, ImageFormat
    from mediapipe.tasks.python.vision.core.vision_task_running_mode import VisionTaskRunningMode

    return FaceLandmarkerApi(BaseOptions, face_landmarker.FaceLandmarker, face_landmarker.FaceLandmarkerOptions,
                             face_landmarker.FaceLandmarksConnections, VisionTaskRunningMode, Image, ImageFormat)
