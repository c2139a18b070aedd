"""The capture subprocess, always stopped: on stop(), on unregister and at exit.

`ChildProcess` drains the child's pipes in threads (so they never block), ends it within two
seconds (terminate, then kill, from a reaper thread: the caller never waits) and says why it
ended, in words, with what the user can do about it.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import signal
import subprocess
import threading

from .bundled_layout import popen_options
from .errors import EXIT_CODES, LaunchError, with_hint

log = logging.getLogger(__name__)

STOP_GRACE_S = 1.0  # after terminate(), the reaper waits this long before kill()

_live_children: "set[ChildProcess]" = set()  # strong references: each is stopped before it is dropped


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


class ChildProcess:
    """A capture subprocess that is always stopped: on stop(), on unregister and at exit."""

    def __init__(self, args: list[str], env: dict[str, str], on_stdout_line=None) -> None:
        # POSIX: its own process group, so stop() also ends anything it started (wrapper
        # scripts, conda shims); Windows: no console window (bundled_layout.popen_options).
        try:
            self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, **popen_options(os.name))
        except OSError as exc:
            raise LaunchError(f"Cannot run the capture interpreter {args[0]}: {exc.strerror or exc}. "
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
        return with_hint(self.describe_exit(), EXIT_CODES.get(self.proc.poll(), ""), source)

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


