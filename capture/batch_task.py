"""One clip of a batch: `python -m capture --source VIDEO --out TAKE`, run on a Dask worker.

No Dask here: the task is a plain function (batch.py submits it), so a worker needs only this
folder on its PYTHONPATH. The capture process runs under supervise.py, which stops it when
this worker is gone, so the retry elsewhere never races an orphan writing the same take.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .supervise import SIGNAL_EXIT
from .take_lock import is_being_written
from .takes import TakeError, take_info

ADDON_FOLDER = Path(__file__).resolve().parents[1]  # what Blender puts on the capture process's PYTHONPATH
PACKAGE = (__package__ or "capture").rpartition(".")[2]  # "capture", also when imported as face_mocap.capture
WRITER_WAIT_S = 30.0  # how long a retry waits for a previous attempt's capture to let go of the .partial


class ClipInterrupted(Exception):
    """The capture process was stopped from outside (a signal): worth retrying on another worker."""


@dataclass(frozen=True)
class ClipResult:
    """What became of one clip; `message` is one line, empty when all went well."""

    clip: str
    status: str  # "done", "skipped" or "failed"
    frames: int = 0
    frames_with_face: int = 0
    seconds: float = 0.0
    message: str = ""
    worker: str = ""  # host:pid of the worker process that ran it


def finished_take(take: Path) -> tuple[int, int] | None:
    """(frames, frames with a face) of a complete take at `take`, or None (missing, partial, damaged)."""
    try:
        info = take_info(take)
    except (TakeError, OSError):
        return None
    if not info.complete:
        return None
    return info.frame_count, int(info.metadata.get("frames_with_face", 0))


def capture_command(python: str, video: Path, take: Path, capture_args: list[str]) -> list[str]:
    """The supervised `python -m capture --out` command for one clip."""
    capture = [python, "-m", PACKAGE, "--source", str(video), "--out", str(take), "--progress", "none",
               *capture_args]
    return [python, "-m", f"{PACKAGE}.supervise", *capture]


def worker_presets() -> set[str]:
    """The variables Dask's nanny set for this worker process alone (distributed.nanny.pre-spawn-environ).

    They are not for the capture: MALLOC_TRIM_THRESHOLD_ turns off glibc's adaptive mmap threshold,
    so every frame buffer is mapped and unmapped again (18x the page faults, 5x the system time
    measured on a 472-frame clip), and OMP_NUM_THREADS=1 and the like cap its threads."""
    if "dask" not in sys.modules:  # not on a Dask worker
        return set()
    import dask

    presets = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {name for name, value in presets.items() if os.environ.get(name) == str(value)}


def capture_environment() -> dict[str, str]:
    """The worker's environment as a shell had it, with the add-on folder first on PYTHONPATH, as
    Blender starts the capture process: so a clip tracks as a single offline import does."""
    dropped = worker_presets() | {"FACE_MOCAP_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ADDON_FOLDER), env.get("PYTHONPATH", "")) if p)
    return env


def wait_for_writer(partial: Path, timeout_s: float) -> None:
    """Wait while another process still writes `partial` (a killed attempt's capture being stopped)."""
    deadline = time.monotonic() + timeout_s
    while is_being_written(partial) and time.monotonic() < deadline:
        time.sleep(0.1)


def last_error(stderr: str, returncode: int) -> str:
    """The capture process's own one-line error, or its exit code when it gave none."""
    lines = [line.strip() for line in stderr.splitlines()]
    error = next((line for line in reversed(lines) if line.startswith("error: ")), "")
    return f"{error.removeprefix('error: ')} (exit {returncode})" if error else f"capture exited with {returncode}"


def track_clip(video: str, take: str, capture_args: list[str], python: str | None = None) -> ClipResult:
    """Track `video` into `take` in a capture process; skip it if a complete take is already there.

    A clip that fails (a broken file, a model problem) is a `failed` result, not an exception: retrying
    it would fail again. Only a capture stopped by a signal raises ClipInterrupted, for Dask's retries."""
    video_path, take_path = Path(video), Path(take)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    found = finished_take(take_path)
    if found:  # a previous attempt finished it, then lost its worker before reporting
        return ClipResult(video_path.name, "skipped", *found, message="complete take already there", worker=worker)
    take_path.parent.mkdir(parents=True, exist_ok=True)
    wait_for_writer(take_path.with_name(take_path.name + ".partial"), WRITER_WAIT_S)
    started = time.monotonic()
    command = capture_command(python or sys.executable, video_path, take_path, capture_args)
    # stdin is the supervisor's lifeline: only this worker holds the pipe's other end
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=capture_environment())
    stderr = proc.stderr.read()  # not communicate(): that would close stdin, which stops the capture
    proc.wait()
    proc.stdin.close()
    seconds = time.monotonic() - started
    if proc.returncode < 0 or proc.returncode > SIGNAL_EXIT:  # interrupted (130) or killed (128 + signal)
        raise ClipInterrupted(f"{video_path.name}: {last_error(stderr, proc.returncode)}")
    if proc.returncode != 0:
        return ClipResult(video_path.name, "failed", seconds=seconds, message=last_error(stderr, proc.returncode),
                          worker=worker)
    found = finished_take(take_path)
    if not found:
        return ClipResult(video_path.name, "failed", seconds=seconds,
                          message=f"capture ended but '{take_path.name}' is not a complete take", worker=worker)
    return ClipResult(video_path.name, "done", *found, seconds=seconds, worker=worker)
