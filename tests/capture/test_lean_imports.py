"""The capture process imports only what face landmarking needs: no matplotlib, no audio (issue 12).

Python's own import log (PYTHONPROFILEIMPORTTIME, the environment form of `-X importtime`)
lists every module the real process imported, offline and live; --verbose keeps stderr."""

from __future__ import annotations

import subprocess

import pytest

from face_mocap.capture import protocol as p

from test_live import TOKEN, FakeBlender

FACE_MODULE = "mediapipe.tasks.python.vision.face_landmarker"


def imported_modules(import_log: str) -> set[str]:
    """Module names from `import time: self | cumulative | name` lines."""
    return {line.rsplit("|", 1)[1].strip() for line in import_log.splitlines() if line.startswith("import time:")
            and "|" in line}


def unwanted(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in ("matplotlib", "sounddevice", "pyplot")
                  or "audio" in name or name.startswith("mediapipe.tasks.python.vision.drawing"))


def test_offline_capture_imports_no_matplotlib_and_no_audio(run_capture, make_env, facedata, tmp_path):
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--max-frames", 5, "--out", tmp_path / "t.fmtake",
                         "--verbose", env=make_env(PYTHONPROFILEIMPORTTIME="1"))
    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported_modules(result.stderr)
    assert FACE_MODULE in modules  # the log is complete: it has the landmarker itself
    assert unwanted(modules) == []


def test_live_capture_imports_no_matplotlib_and_no_audio(capture_python, repo_root, make_env, facedata):
    blender = FakeBlender()
    proc = subprocess.Popen([capture_python, "-m", "capture", "--source", str(facedata / "grid/bbaf2n.mpg"),
                             "--max-frames", "5", "--connect", blender.address, "--verbose"], cwd=repo_root,
                            env=make_env(PYTHONPROFILEIMPORTTIME="1", FACE_MOCAP_TOKEN=TOKEN),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        blender.accept()
        frames = [m for m in blender.messages() if isinstance(m, p.FaceFrame)]
        _, stderr = proc.communicate(timeout=60)
    finally:
        blender.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and len(frames) == 5, stderr[-2000:]
    modules = imported_modules(stderr)
    assert FACE_MODULE in modules
    assert unwanted(modules) == []


@pytest.mark.parametrize("module", ["matplotlib", "sounddevice"])
def test_the_check_sees_what_the_whole_package_would_import(capture_python, make_env, module):
    """The full `mediapipe` import pulls both in: the test above would notice a regression."""
    result = subprocess.run([capture_python, "-c", "import mediapipe"], env=make_env(PYTHONPROFILEIMPORTTIME="1"),
                            capture_output=True, text=True, timeout=60)
    assert module in {name.split(".")[0] for name in imported_modules(result.stderr)}
