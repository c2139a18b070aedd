"""Keep Capture Ready: at most one capture process in standby, so Start Capture does not wait for it.

No bpy here. The process has imported MediaPipe and made its FaceLandmarker but opened no
camera and no video (capture/standby.py): Start Capture hands it the source. It is used only
when it was started with the same interpreter, packages, model and MediaPipe options as the
capture asked for; otherwise it is ended and the capture starts a process of its own.
It ends with Blender like any capture process (process.stop_all, at exit, on file load), and
by itself when Blender dies (its socket closes).
"""

from __future__ import annotations

from ..capture.protocol import STANDBY
from .errors import LaunchError, SessionError
from .options import CaptureOptions
from .session import CaptureSession


class _Ready:
    session: CaptureSession | None = None


def ensure(options: CaptureOptions) -> bool:
    """Start a process in standby for these options unless one is ready for them; True if one is."""
    if _ready_for(_Ready.session, options):
        return True
    stop()
    if options.start_message() is None:
        return False
    session = CaptureSession(options)
    try:
        session.start_standby()
    except LaunchError:  # Start Capture will say what is wrong, in its own words
        return False
    _Ready.session = session
    return True


def claim(options: CaptureOptions) -> CaptureSession | None:
    """The process in standby, started for this capture (go() sent), or None: then it is ended,
    and the caller starts a process of its own."""
    current, _Ready.session = _Ready.session, None
    if current is None:
        return None
    if _ready_for(current, options):
        try:
            current.go(options)
            return current
        except (SessionError, OSError):  # a bad source too: the normal start says why
            pass
    current.stop()
    return None


def _ready_for(session: CaptureSession | None, options: CaptureOptions) -> bool:
    return (session is not None and session.standby_ready() and options.start_message() is not None
            and session.options.standby_key() == options.standby_key())


def waiting() -> bool:
    """True while a process waits in standby: alive, connected (or still connecting), not stalled."""
    return _Ready.session is not None and _Ready.session.standby_ready()


def loaded() -> bool:
    """True once the process in standby has loaded its model (it said Status 'standby')."""
    current = _Ready.session
    return current is not None and current.poll().capture_state == STANDBY


def pid() -> int | None:
    """The process id of the process in standby, if there is one."""
    current = _Ready.session
    return current.child.pid if current is not None and current.child is not None else None


def stop() -> None:
    """End the process in standby, if any (the preference turned off, unregister, file load)."""
    current, _Ready.session = _Ready.session, None
    if current is not None:
        current.stop()
