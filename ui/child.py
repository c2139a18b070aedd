"""The capture subprocess: options, checks, environment (token never in argv), always stopped.

No bpy here. `_ChildProcess` drains the child's pipes in threads, ends it within two
seconds (terminate, then kill, from a reaper thread: the caller never waits) and at exit too; `OfflineImport` runs
`python -m capture --out TAKE --progress jsonl` and reads its progress lines.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..capture.errors import ConnectionFailed, InputError, ModelError, OutputError
from ..capture.model import path_problem
from ..capture.protocol import TOKEN_ENV
from ..capture.segments import remove_segments
from ..capture.takes import PARTIAL_SUFFIX
from .bundled_layout import popen_options

log = logging.getLogger(__name__)

STOP_GRACE_S = 1.0  # after terminate(), the reaper waits this long before kill()

_live_children: "set[_ChildProcess]" = set()  # strong references: each is stopped before it is dropped


class CaptureError(Exception):
    """A capture that cannot start or that failed, with what the user can do about it."""


# the capture process's exit codes -> its error codes (protocol Error.code), and those -> what the user can do
_EXIT_CODES = {error.exit_code: error.code for error in (InputError, ModelError, ConnectionFailed, OutputError)}
_HINTS = {
    "camera": "Check that the camera is connected and not used by another program, "
              "allow camera access for Blender, or pick another camera index under Source",
    "input": "Choose a readable video file (mp4, mov, avi, mkv...) under Source",
    "model": "Set a valid face_landmarker.task as Model Override in Preferences > Add-ons > Face Mocap, "
             "or clear it to use the bundled model",
    "output": "Save the .blend in a folder you can write to",
    "packages": "This Python lacks the capture packages: install mediapipe there, or choose Bundled, "
                "in Preferences > Add-ons > Face Mocap (press Check to test)",
}


def with_hint(message: str, code: str, source: str) -> str:
    """A capture process's error plus what to do about it."""
    if code == "input" and source.startswith("webcam:"):
        code = "camera"
    elif "No module named" in message or "cannot import" in message:
        code = "packages"
    hint = _HINTS.get(code)
    message = message[0].upper() + message[1:] if message else message
    return f"{message}. {hint}" if hint and hint not in message else message


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
        args = ["--source", self.source,
                "--num-faces", str(self.num_faces),
                "--min-face-detection-confidence", f"{self.min_face_detection_confidence:g}",
                "--min-face-presence-confidence", f"{self.min_face_presence_confidence:g}",
                "--min-tracking-confidence", f"{self.min_tracking_confidence:g}"]
        if self.model:
            args += ["--model", self.model]
        if self.mirror:
            args.append("--mirror")
        return args + list(self.extra_args)


def check_source(source: str) -> None:
    """Raise CaptureError when a video source cannot be read at all (cameras are checked by the child)."""
    if source.startswith("webcam:"):
        if not source[len("webcam:"):].isdigit():
            raise CaptureError(f"Camera '{source}' is not valid: use webcam:0, webcam:1, ...")
        return
    if not source:
        raise CaptureError("No source chosen: pick a video file or a camera in the Source box")
    path = Path(source)
    if not path.is_file():
        raise CaptureError(f"Video file not found: {source}. Choose an existing file in the Source box")
    if not os.access(path, os.R_OK):
        raise CaptureError(f"Video file {source} cannot be read (permissions): fix its permissions or copy it")


def check_interpreter(path: str) -> None:
    """Raise CaptureError when the capture interpreter does not exist or cannot be run."""
    if not path:
        raise CaptureError("No capture interpreter set: choose Bundled or a Python with mediapipe "
                           "in Preferences > Add-ons > Face Mocap")
    if not Path(path).is_file():
        raise CaptureError(f"Capture interpreter not found: {path}. Set a Python that has mediapipe in "
                           "Preferences > Add-ons > Face Mocap (or choose Bundled), then press Check")
    if not os.access(path, os.X_OK):
        raise CaptureError(f"Capture interpreter {path} is not executable: fix its permissions or pick another")


def check_options(options: CaptureOptions) -> None:
    """Raise CaptureError when the interpreter, the source or the model override is unusable."""
    check_interpreter(options.interpreter)
    check_source(options.source)
    problem = path_problem(options.model) if options.model else ""
    if problem:
        raise CaptureError(f"Model override {options.model} {problem}. Fix the model path in "
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


class _TailReader:
    """Drain a child's pipe in a thread (so it never blocks) and keep the last lines."""

    def __init__(self, stream, on_line=None, keep: int = 40) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._on_line = on_line
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True,
                                        name="face_mocap-pipe")
        self._thread.start()

    def _run(self, stream) -> None:
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                if not line:
                    continue
                self.lines.append(line)
                if self._on_line is not None:
                    self._on_line(line)
        except (OSError, ValueError):
            pass  # the pipe was closed under us while stopping
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def last_message(self) -> str:
        """The last line that looks like a message for the user (not a traceback frame)."""
        for line in reversed(self.lines):
            text = line.strip()
            if text and not text.startswith(("File ", "Traceback", "^", "~")) and not line.startswith("  "):
                return text
        return ""


class _ChildProcess:
    """A capture subprocess that is always stopped: on stop(), on unregister and at exit."""

    def __init__(self, args: list[str], env: dict[str, str], on_stdout_line=None) -> None:
        # POSIX: its own process group, so stop() also ends anything it started (wrapper
        # scripts, conda shims); Windows: no console window (bundled_layout.popen_options).
        try:
            self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, **popen_options(os.name))
        except OSError as exc:
            raise CaptureError(f"Cannot run the capture interpreter {args[0]}: {exc.strerror or exc}. "
                               "Check it in Preferences > Add-ons > Face Mocap") from None
        self.stdout = _TailReader(self.proc.stdout, on_stdout_line)
        self.stderr = _TailReader(self.proc.stderr)
        self._stop_lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        _live_children.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def returncode(self) -> int | None:
        return self.proc.poll()

    def _signal_group(self, sig: int) -> None:
        """Send sig to the child's whole process group (POSIX only)."""
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # the group is gone already

    def _terminate(self) -> None:
        if os.name == "nt":
            self.proc.terminate()
            return
        self._signal_group(signal.SIGTERM)
        self._signal_group(signal.SIGCONT)  # a stopped (stalled, SIGSTOP) process handles SIGTERM once continued

    def _kill(self) -> None:
        self._signal_group(signal.SIGKILL) if os.name != "nt" else self.proc.kill()

    def stop(self, grace_s: float = STOP_GRACE_S, wait: bool = False) -> None:
        """Ask the process to end now; a reaper thread kills it if it is still there after
        grace_s and reaps it, so the caller (Blender's main thread) never waits, unless `wait`.

        Signals go to the group only while the child is unreaped, so its pid (= the group
        id) cannot have been reused by an unrelated process."""
        with self._stop_lock:
            if self._reaper is None:
                if self.proc.poll() is None:
                    self._terminate()
                self._reaper = threading.Thread(target=self._reap, args=(grace_s,), daemon=True,
                                                name="face_mocap-reaper")
                self._reaper.start()
        if wait:
            self._reaper.join()

    def _reap(self, grace_s: float) -> None:
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            if self.proc.poll() is None:
                self._kill()
            self.proc.wait()  # SIGKILL cannot be ignored
        self.stdout.join(0.2)
        self.stderr.join(0.2)
        _live_children.discard(self)

    def describe_failure(self, source: str) -> str:
        """Why the process failed and what the user can do about it."""
        return with_hint(self.describe_exit(), _EXIT_CODES.get(self.proc.poll(), ""), source)

    def describe_exit(self) -> str:
        """Why the process ended, in words, from its exit code and its last line on stderr."""
        code = self.proc.poll()
        last = self.stderr.last_message().removeprefix("error: ")
        if code is not None and code < 0:
            return f"The capture process was killed (signal {-code})" + (f": {last}" if last else "")
        if last:
            return last
        return f"The capture process exited with code {code}"


def stop_all(wait: bool = False) -> None:
    """Stop every capture process this Blender started (add-on unregister, file load, exit)."""
    for child in list(_live_children):
        child.stop(wait=wait)


atexit.register(stop_all, wait=True)  # Blender is exiting: nothing may outlive it


@dataclass
class ImportProgress:
    """Where an offline import stands."""

    done: int = 0
    total: int = 0
    finished: bool = False
    error: str = ""


class OfflineImport:
    """`python -m capture --source VIDEO --out TAKE --progress jsonl`, polled for progress."""

    def __init__(self, options: CaptureOptions, out_path: str | os.PathLike) -> None:
        check_options(options)
        self.source = options.source
        self.out_path = Path(out_path)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self._progress = ImportProgress()
        self._lock = threading.Lock()
        args = [options.interpreter, "-m", "capture", *options.capture_args(),
                "--out", str(self.out_path), "--progress", "jsonl", "--processes", str(options.import_processes)]
        self.child = _ChildProcess(args, child_environment(None, options.python_path, options.env), self._on_line)

    def _on_line(self, line: str) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if isinstance(obj, dict) and isinstance(obj.get("done"), int):
            with self._lock:
                self._progress.done = obj["done"]
                if isinstance(obj.get("total"), int):
                    self._progress.total = obj["total"]

    def poll(self) -> ImportProgress:
        """Progress so far; finished with error '' when the take is written."""
        code = self.child.returncode()
        with self._lock:
            progress = ImportProgress(**vars(self._progress))
        if code is None:
            return progress
        self.child.stop()
        progress.finished = True
        if code != 0 or not self.out_path.is_file():
            progress.error = self.child.describe_failure(self.source)
        return progress

    def cancel(self) -> None:
        """Stop the child (and its segment processes: one process group) and remove anything they
        left behind (after they are gone: Windows cannot delete a file another process has open)."""
        self.child.stop(wait=True)
        self.out_path.with_name(self.out_path.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
        remove_segments(self.out_path)
