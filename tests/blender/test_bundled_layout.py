"""Bundled mode's per-platform decisions (link/bundled_layout.py) over each platform's real paths.

Windows and macOS cannot run here, so the layouts below are the ones official Blender
builds use, written out: default install folders (with spaces on Windows and macOS),
the Python Blender ships, and the user extensions folder of each system.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import bpy
import pytest

from extension_tools import read_manifest
from face_mocap.link import bundled_layout
from face_mocap.ui import interpreter

LAYOUTS = {
    "Linux": {
        "extensions": "/home/ana/.config/blender/4.2/extensions",
        "site": "/home/ana/.config/blender/4.2/extensions/.local/lib/python3.11/site-packages",
        "binary": "/opt/blender-4.2.9-linux-x64/blender",
        "python": "/opt/blender-4.2.9-linux-x64/4.2/python/bin/python3.11",
    },
    "Windows": {
        "extensions": r"C:\Users\Ana Lopez\AppData\Roaming\Blender Foundation\Blender\4.2\extensions",
        "site": r"C:\Users\Ana Lopez\AppData\Roaming\Blender Foundation\Blender\4.2\extensions"
                r"\.local\lib\python3.11\site-packages",
        "binary": r"C:\Program Files\Blender Foundation\Blender 4.2\blender.exe",
        "python": r"C:\Program Files\Blender Foundation\Blender 4.2\4.2\python\bin\python.exe",
    },
    "Darwin": {
        "extensions": "/Users/ana/Library/Application Support/Blender/4.2/extensions",
        "site": "/Users/ana/Library/Application Support/Blender/4.2/extensions/.local/lib/python3.11/site-packages",
        "binary": "/Applications/Blender 4.2.app/Contents/MacOS/Blender",
        "python": "/Applications/Blender 4.2.app/Contents/Resources/4.2/python/bin/python3.11",
    },
}


@pytest.mark.parametrize("system", LAYOUTS)
def test_wheels_site_packages_follows_blenders_layout_on_each_system(system):
    layout = LAYOUTS[system]
    site = bundled_layout.wheels_site_packages(layout["extensions"], (3, 11), system)
    assert str(site) == layout["site"]


def test_wheels_site_packages_for_python_3_13_on_windows():
    site = bundled_layout.wheels_site_packages(r"C:\Users\Ana Lopez\AppData\Roaming\Blender Foundation"
                                               r"\Blender\5.2\extensions", (3, 13), "Windows")
    assert str(site).endswith(r"\5.2\extensions\.local\lib\python3.13\site-packages")


@pytest.mark.parametrize("system", LAYOUTS)
def test_sys_executable_is_used_when_it_is_blenders_python(system):
    layout = LAYOUTS[system]
    assert bundled_layout.blender_python(layout["python"], layout["binary"], (4, 2), (3, 11), system) == \
        layout["python"]


@pytest.mark.parametrize("system", LAYOUTS)
def test_blenders_python_is_found_beside_the_program_when_sys_executable_is_blender(system):
    layout = LAYOUTS[system]
    found = bundled_layout.blender_python(layout["binary"], layout["binary"], (4, 2), (3, 11), system)
    assert found == layout["python"]


def test_python_names_on_each_system():
    assert bundled_layout.is_python_executable(r"C:\Program Files\Blender 5.2\5.2\python\bin\python.exe", "Windows")
    assert bundled_layout.is_python_executable(r"D:\Tools\Python313\PYTHON.EXE", "Windows")
    assert bundled_layout.is_python_executable("/usr/bin/python3.13", "Linux")
    assert bundled_layout.is_python_executable("/opt/venv/bin/python3", "Linux")
    assert not bundled_layout.is_python_executable(r"C:\Program Files\Blender 4.2\blender.exe", "Windows")
    assert not bundled_layout.is_python_executable("/Applications/Blender.app/Contents/MacOS/Blender", "Darwin")


def test_bpy_as_a_module_keeps_its_own_python():
    """No Blender program (bpy from PyPI): sys.executable is the venv's Python and stays."""
    assert bundled_layout.blender_python("/work/venv/bin/python", "", (5, 2), (3, 13), "Linux") == \
        "/work/venv/bin/python"
    assert interpreter.blender_python() == sys.executable


def test_windows_children_get_no_process_group_and_no_console():
    options = bundled_layout.popen_options("nt")
    assert options == {"creationflags": 0x08000000}  # CREATE_NO_WINDOW; killpg and setsid do not exist there
    assert not bundled_layout.uses_process_groups("nt")
    assert getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000) == bundled_layout.CREATE_NO_WINDOW


def test_posix_children_get_their_own_process_group():
    assert bundled_layout.popen_options("posix") == {"start_new_session": True}
    assert bundled_layout.uses_process_groups("posix")


def test_a_windows_python_path_with_spaces_reaches_the_child_as_one_argument():
    """subprocess quotes each argv item for CreateProcess: the space in Program Files stays inside."""
    python = LAYOUTS["Windows"]["python"]
    line = subprocess.list2cmdline([python, "-m", "capture", "--source", r"C:\Users\Ana Lopez\take 1.mp4"])
    assert line == f'"{python}" -m capture --source "C:\\Users\\Ana Lopez\\take 1.mp4"'


@pytest.mark.parametrize("system, machine, platform_name", [
    ("Linux", "x86_64", "linux-x64"), ("Windows", "AMD64", "windows-x64"), ("Darwin", "arm64", "macos-arm64"),
    ("Darwin", "x86_64", "macos-x64"), ("Linux", "aarch64", "linux-arm64"), ("Windows", "ARM64", "windows-arm64"),
])
def test_blender_platform_names(system, machine, platform_name):
    assert bundled_layout.blender_platform(system, machine) == platform_name


@pytest.mark.parametrize("system, machine", [("Linux", "x86_64"), ("Windows", "AMD64"), ("Darwin", "arm64")])
def test_bundled_platforms_have_no_problem(system, machine):
    assert bundled_layout.bundled_support_problem(system, machine) == ""


def test_intel_macs_are_told_why_and_sent_to_custom_python():
    problem = bundled_layout.bundled_support_problem("Darwin", "x86_64")
    assert "Intel" in problem and "x86_64" in problem and "1.2.2" in problem
    assert "Custom Python" in problem and "Check" in problem


def test_other_machines_are_named_with_the_platforms_that_exist():
    problem = bundled_layout.bundled_support_problem("Linux", "aarch64")
    assert "linux-arm64" in problem and "windows-x64" in problem and "Custom Python" in problem


def test_the_manifests_platforms_are_the_bundled_ones_and_intel_macs():
    platforms = read_manifest()["platforms"]
    assert sorted(platforms) == sorted(bundled_layout.BUNDLED_PLATFORMS + bundled_layout.ADDON_ONLY_PLATFORMS)


def test_check_names_the_intel_mac_reason_in_bundled_mode(addon, monkeypatch):
    prefs = bpy.context.preferences.addons["face_mocap"].preferences
    prefs.interpreter = "BUNDLED"
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    with pytest.raises(RuntimeError, match="no macOS x86_64"):
        bpy.ops.facemocap.check_interpreter()
    assert "Custom Python" in bpy.context.window_manager.face_mocap.check_result
