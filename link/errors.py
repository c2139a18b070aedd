"""What goes wrong between Blender and the capture process, and what the user can do about it.

`SessionError` is a live capture or a video import that cannot start, record or finish;
`LaunchError` (one of them) a capture process that cannot be launched at all (interpreter,
source, model). The capture process's own errors (capture/errors.py: CaptureProcessError and
its kinds) reach Blender as an exit code or a protocol Error and become a message with a hint here.
"""

from __future__ import annotations

from ..capture.errors import ConnectionFailed, InputError, ModelError, OutputError


class SessionError(Exception):
    """A capture or an import that cannot start or that failed, with what the user can do about it."""


class LaunchError(SessionError):
    """The capture process cannot be launched: its interpreter, source or model is unusable."""


# the capture process's exit codes -> its error codes (protocol Error.code), and those -> what the user can do
EXIT_CODES = {error.exit_code: error.code for error in (InputError, ModelError, ConnectionFailed, OutputError)}
HINTS = {
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
    hint = HINTS.get(code)
    message = message[0].upper() + message[1:] if message else message
    return f"{message}. {hint}" if hint and hint not in message else message
