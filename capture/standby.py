"""Standby: a live capture process that has loaded its model and waits for Blender's Start.

Started ahead of time (`--standby`), it has done everything slow (interpreter, imports, the
FaceLandmarker) but has not opened the camera or the video: that happens only when Blender
sends Start with the source, so a camera is never on before the user presses Start Capture.
"""

from __future__ import annotations

import dataclasses
import threading

from .errors import UsageError
from .pipeline import CaptureSettings
from .protocol import Start, landmarker_key


def settings_key(settings: CaptureSettings) -> dict[str, str]:
    """The landmarker options this process was started with, as Start.landmarker states them."""
    options = settings.landmarker
    return landmarker_key(settings.model or "", options.running_mode, options.num_faces,
                          options.min_face_detection_confidence, options.min_face_presence_confidence,
                          options.min_tracking_confidence)


def started_settings(settings: CaptureSettings, start: Start) -> CaptureSettings:
    """The settings for Blender's Start; UsageError when it expects other landmarker options."""
    own = settings_key(settings)
    if start.landmarker != own:
        differ = sorted(name for name in own.keys() | start.landmarker.keys()
                        if own.get(name) != start.landmarker.get(name))
        raise UsageError(f"this capture process in standby was started with other options ({', '.join(differ)}): "
                         "start a new one")
    return dataclasses.replace(settings, source=start.source, mirror=start.mirror, realtime=start.realtime,
                               loop=start.loop, width=start.width or None, height=start.height or None,
                               fps=start.fps or None)


class StartSlot:
    """Where the connection's reader thread leaves Blender's Start for the main thread."""

    def __init__(self) -> None:
        self._start: Start | None = None
        self._arrived = threading.Event()

    def put(self, start: Start) -> None:
        if not self._arrived.is_set():  # the first Start counts; a process starts once
            self._start = start
            self._arrived.set()

    def wait(self, stop: threading.Event, poll_s: float = 0.05) -> Start | None:
        """Blender's Start, or None once `stop` is set (Blender closed, a signal) before it came."""
        while not stop.is_set():
            if self._arrived.wait(poll_s):
                return self._start
        return None
