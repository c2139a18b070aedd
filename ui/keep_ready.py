"""Keep Capture Ready (a preference): the capture process waiting in standby, started from the UI.

Started once the Face Mocap panel has been drawn (from a timer: draw() may not start
processes) and again after each capture, at most once between two captures, and never while
capturing; ended on file load, on unregister, and when the preference is turned off. The
process itself (../link/ready.py) opens no camera or video until Start Capture.
"""

from __future__ import annotations

import bpy

from ..link import ready
from ..link.errors import LaunchError
from . import live, preferences


class _KeepReady:
    tried = False  # a process in standby was started since the last Start Capture or file load


def keep_capture_ready(context: bpy.types.Context) -> None:
    """A capture process in standby for the scene's capture options, unless one was tried already."""
    if _KeepReady.tried or live.is_running() or not preferences.keep_capture_ready(context):
        return
    _KeepReady.tried = True
    from .operators_capture import capture_options  # (it imports this module)

    try:
        options = capture_options(context, source="")
    except LaunchError:  # e.g. no bundled packages: Start Capture says so when pressed
        return
    ready.ensure(options)


def keep_capture_ready_soon() -> None:
    """keep_capture_ready() from a timer, for the panel's draw()."""
    if not (_KeepReady.tried or live.is_running() or bpy.app.timers.is_registered(_keep_ready_timer)):
        bpy.app.timers.register(_keep_ready_timer, first_interval=0.0)


def _keep_ready_timer() -> None:
    keep_capture_ready(bpy.context)


def forget() -> None:
    """Allow one more start: at Start Capture (for after it) and after a file load."""
    _KeepReady.tried = False


def stop() -> None:
    """End the process in standby (file load, unregister, the preference turned off)."""
    ready.stop()
    forget()
