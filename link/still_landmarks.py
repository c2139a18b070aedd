"""Face landmarks on still images (Generate ARKit Shape Keys' renders of a mesh):
`python -m capture --source IMAGES --out TAKE --progress none`, run to its end."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..capture.takes import read_take
from .errors import SessionError
from .options import CaptureOptions, check_options, child_environment
from .process import ChildProcess

TIMEOUT_S = 120.0  # MediaPipe takes well under a second an image; this is for a process that hangs


def _images(source: Path) -> list[Path]:
    return sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]


def first_face(options: CaptureOptions, take_path: Path, timeout_s: float = TIMEOUT_S) -> tuple[int, np.ndarray] | None:
    """(index, its (478, 3) normalised landmarks) of the first image where MediaPipe finds a face,
    in `options.source` (an image, or a folder of images taken in name order), or None when no image
    has one. LaunchError when the process cannot be launched, SessionError when it fails."""
    images = _images(Path(options.source))
    if not images:
        raise SessionError(f"No images to look for a face in at {options.source}")
    check_options(replace(options, source=str(images[0])))  # interpreter, model override, a readable image
    args = [options.interpreter, "-m", "capture", *options.capture_args(), "--out", str(take_path),
            "--progress", "none"]
    child = ChildProcess(args, child_environment(None, options.python_path, options.env))
    try:
        child.proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise SessionError(f"The capture process found no answer on {options.source} in {timeout_s:.0f} s") from None
    finally:
        child.stop(wait=True)  # reaped, its pipes drained
    if child.returncode() != 0 or not take_path.is_file():
        raise SessionError(child.describe_failure(options.source))
    take = read_take(take_path)
    take_path.unlink()
    found = np.flatnonzero(take.face_found)
    if not len(found):
        return None
    return int(found[0]), np.asarray(take.landmarks[found[0]], np.float64)
