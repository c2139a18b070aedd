"""Errors of the capture process; each carries the exit code and the protocol error code."""

from __future__ import annotations

# Exit codes of `python -m capture` (documented in README.md next to this file).
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_MODEL = 4
EXIT_CONNECTION = 5
EXIT_OUTPUT = 6
EXIT_ENVIRONMENT = 7
EXIT_INTERRUPTED = 130


class CaptureProcessError(Exception):
    """A problem that ends the capture process, which the user can act on: `exit_code` is its exit
    code, `code` goes into the protocol Error message (Blender adds a hint: link/errors.py)."""

    exit_code = EXIT_INTERNAL
    code = "internal"


class InputError(CaptureProcessError):
    """The video, image folder or camera cannot be opened or read."""

    exit_code = EXIT_INPUT
    code = "input"


class ModelError(CaptureProcessError):
    """The face_landmarker.task model is missing, damaged or cannot be loaded."""

    exit_code = EXIT_MODEL
    code = "model"


class ConnectionFailed(CaptureProcessError):
    """Blender cannot be reached, rejected the session, or broke the protocol."""

    exit_code = EXIT_CONNECTION
    code = "connection"


class OutputError(CaptureProcessError):
    """The take (or Rerun recording) cannot be written."""

    exit_code = EXIT_OUTPUT
    code = "output"


class UsageError(CaptureProcessError):
    """Options that contradict each other."""

    exit_code = EXIT_USAGE
    code = "usage"
