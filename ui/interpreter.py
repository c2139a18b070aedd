"""The bundled capture interpreter: Blender's own Python plus the wheels the extension ships.

Blender installs an extension's wheels into one site-packages folder under the user's
extensions folder (`<EXTENSIONS>/.local/lib/pythonX.Y/site-packages`) and puts it on its
own sys.path; a child process does not inherit that, so it goes on the child's PYTHONPATH
after the add-on folder (for `python -m capture`). No pip at run time. The per-platform
decisions are pure functions in bundled_layout.py; this module feeds them this Blender.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import bpy

from ..link import bundled_layout
from ..link.errors import LaunchError
from ..link.options import child_environment
from .preferences import ADDON_ROOT

BUNDLED_MODULE = "mediapipe"  # the wheel whose presence means "bundled mode can run"


def wheels_site_packages() -> Path:
    """The folder where Blender installs extension wheels (shared by all extensions)."""
    site = bundled_layout.wheels_site_packages(bpy.utils.user_resource("EXTENSIONS"), sys.version_info[:2],
                                               platform.system())
    return Path(site)


def bundled_python_path() -> list[str]:
    """PYTHONPATH of the bundled capture process: the add-on folder, then the wheels."""
    return [str(ADDON_ROOT), str(wheels_site_packages())]


def check_bundled() -> None:
    """Raise LaunchError when bundled mode cannot run here: no zip for this machine (Intel Macs),
    or the extension's wheels are not installed for this Blender."""
    problem = bundled_layout.bundled_support_problem(platform.system(), platform.machine())
    if problem:
        raise LaunchError(problem)
    site = wheels_site_packages()
    if not (site / BUNDLED_MODULE).is_dir():
        raise LaunchError(
            f"The bundled capture packages are not installed (no {BUNDLED_MODULE} in {site}). "
            "Install Face Mocap from its extension zip for this platform, or choose Custom Python "
            "in Preferences > Add-ons > Face Mocap")


def blender_python() -> str:
    """Blender's own Python interpreter (sys.executable, or found beside the Blender program)."""
    return bundled_layout.blender_python(sys.executable, bpy.app.binary_path, bpy.app.version[:2],
                                         sys.version_info[:2], platform.system())


def bundled_interpreter() -> tuple[str, list[str]]:
    """(interpreter, PYTHONPATH entries) for bundled mode, after checking the wheels are there."""
    check_bundled()
    return blender_python(), bundled_python_path()


def bundled_capture_command(args: list[str], token: str | None = None) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run `python -m capture ARGS` on Blender's Python with the wheels."""
    interpreter, python_path = bundled_interpreter()
    env = child_environment(token, python_path)
    env["PYTHONNOUSERSITE"] = "1"  # packages pip-installed in ~/.local must not shadow the wheels
    return [interpreter, "-m", "capture", *args], env
