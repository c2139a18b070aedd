"""Bundled mode on each platform's layout, as pure functions of plain strings (no bpy, no os queries).

Bundled mode runs the capture process on Blender's own Python with the wheels Blender
installed from the extension zip. Where those live, how a child is started and stopped,
and which machines have a zip at all differ between Linux, Windows and macOS; Windows and
macOS cannot be run here, so every decision is made from strings the caller passes in
(`sys.executable`, `platform.system()`, ...) and tested over each platform's real paths.
"""

from __future__ import annotations

import re
from pathlib import PurePath, PurePosixPath, PureWindowsPath

# platform.system() / platform.machine() -> Blender's platform names (its manifest and zip suffixes)
_SYSTEMS = {"Linux": "linux", "Windows": "windows", "Darwin": "macos"}
_MACHINES = {"x86_64": "x64", "AMD64": "x64", "amd64": "x64", "arm64": "arm64", "aarch64": "arm64", "ARM64": "arm64"}
BUNDLED_PLATFORMS = ("linux-x64", "windows-x64", "macos-arm64")  # zips that carry mediapipe's wheels
ADDON_ONLY_PLATFORMS = ("macos-x64",)  # a zip with the add-on and the model only: Custom Python there

CREATE_NO_WINDOW = 0x08000000  # subprocess.CREATE_NO_WINDOW, which only exists on Windows builds of Python

INTEL_MAC_MESSAGE = (
    "Bundled mode cannot run on an Intel Mac: MediaPipe 1.2.2, which it runs, publishes no macOS x86_64 "
    "(Intel) wheel, so the Intel Mac zip carries none. Choose Custom Python in Preferences > Add-ons > Face Mocap and point it "
    "at a Python where mediapipe is installed (mediapipe 0.10.21 is the last release with Intel Mac wheels), "
    "then press Check")

_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$", re.IGNORECASE)


def blender_platform(system: str, machine: str) -> str:
    """Blender's name for a machine: ("Windows", "AMD64") -> "windows-x64"."""
    return f"{_SYSTEMS.get(system, system.lower())}-{_MACHINES.get(machine, machine.lower())}"


def bundled_support_problem(system: str, machine: str) -> str:
    """'' when a zip with wheels exists for this machine, else why bundled mode cannot run and what to do."""
    platform = blender_platform(system, machine)
    if platform in BUNDLED_PLATFORMS:
        return ""
    if platform == "macos-x64":
        return INTEL_MAC_MESSAGE
    return (f"There is no Face Mocap zip for {platform} (zips exist for {', '.join(BUNDLED_PLATFORMS)}). "
            "Choose Custom Python in Preferences > Add-ons > Face Mocap with a Python where mediapipe is "
            "installed, then press Check")


def _path_type(system: str) -> type[PurePath]:
    return PureWindowsPath if system == "Windows" else PurePosixPath


def wheels_site_packages(extensions_dir: str, python: tuple[int, int], system: str) -> PurePath:
    """Where Blender installs extension wheels: `<EXTENSIONS>/.local/lib/pythonX.Y/site-packages`,
    the same shape on every platform (addon_utils._initialize_extensions_site_packages)."""
    return _path_type(system)(extensions_dir, ".local", "lib", f"python{python[0]}.{python[1]}", "site-packages")


def is_python_executable(path: str, system: str) -> bool:
    """Whether a path names a Python interpreter (python3.11, python.exe, ...) rather than Blender itself."""
    return bool(_PYTHON_NAME.match(_path_type(system)(path).name))


def blender_python(executable: str, blender_binary: str, blender_version: tuple[int, int],
                   python: tuple[int, int], system: str) -> str:
    """Blender's own Python interpreter. `sys.executable` is it in Blender 2.91 and later; should it
    name the Blender program instead, the bundled Python is found where every Blender release
    keeps it: `<version>/python/bin/` beside blender(.exe), or under Contents/Resources on macOS."""
    if is_python_executable(executable, system) or not blender_binary:
        return executable
    binary = _path_type(system)(blender_binary)
    version = f"{blender_version[0]}.{blender_version[1]}"
    if system == "Darwin":  # Blender.app/Contents/MacOS/Blender -> Blender.app/Contents/Resources/X.Y/...
        root = binary.parent.parent / "Resources" / version
    else:
        root = binary.parent / version
    name = "python.exe" if system == "Windows" else f"python{python[0]}.{python[1]}"
    return str(root / "python" / "bin" / name)


def uses_process_groups(os_name: str) -> bool:
    """POSIX children get their own process group, so stopping one also ends what it started;
    Windows has no process groups (no killpg, no SIGKILL): the process itself is ended."""
    return os_name != "nt"


def popen_options(os_name: str) -> dict[str, object]:
    """Extra subprocess.Popen arguments for a capture child on `os.name`."""
    if uses_process_groups(os_name):
        return {"start_new_session": True}
    return {"creationflags": CREATE_NO_WINDOW}  # no console window flashing up next to Blender

