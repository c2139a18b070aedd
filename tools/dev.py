#!/usr/bin/env python3
"""Developer commands: set up both environments, run the demo, run the tests.

    python3 tools/dev.py demo [VIDEO]   the whole product, headless, on a clip
    python3 tools/dev.py test           every test tier (capture, mapping, Blender 5.0, 4.2 LTS, 5.2 LTS)
    python3 tools/dev.py build          the extension zips, one per platform, and a repository index (dist/)
    python3 tools/dev.py setup          only create the environments and fetch the model

Environments live in ~/.cache/face_mocap/venvs and are rebuilt when their requirements
file changes. The Blender 5.2 environment needs Python 3.13 (bpy 5.2.3 exists for no other):
found as FACE_MOCAP_PYTHON313, python3.13 on PATH, or under pyenv. Standard library only:
this runs on the system Python.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / "tools"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "face_mocap"
VENVS = CACHE / "venvs"
MODEL = CACHE / "models" / "face_landmarker.task"
ENVIRONMENTS = {  # name -> requirements file
    "capture": TOOLS / "requirements-capture.txt",
    "blender": TOOLS / "requirements-blender.txt",
    "blender-4.2": TOOLS / "requirements-blender-4.2.txt",
    "blender-5.2": TOOLS / "requirements-blender-5.2.txt",
}
PYTHON_OF_ENV = {"blender-5.2": "3.13"}  # the others use the Python running this script (3.11)
PLAN = {  # tier -> (environment, test paths)
    "capture": ("capture", ["tests/capture", "tests/link"]),  # link/ runs without Blender
    "mapping": ("blender", ["tests/mapping"]),
    "blender": ("blender", ["tests/blender"]),
    "blender-4.2": ("blender-4.2", ["tests/blender"]),
    "blender-5.2": ("blender-5.2", ["tests/blender"]),
}


class SetupError(Exception):
    """An environment cannot be made on this machine; the message says what to install."""


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def python_of(env: str) -> Path:
    return VENVS / env / "bin" / "python"


def pyenv_pythons(version: str) -> list[Path]:
    """pyenv's interpreters of one minor version (newest first), if pyenv is there."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        root = found.stdout.strip() if found.returncode == 0 else ""
    root_path = Path(root) if root else Path.home() / ".pyenv"
    candidates = (root_path / "versions").glob(f"{version}.*/bin/python{version}")
    return sorted(candidates, key=lambda p: [int(x) for x in p.parents[1].name.split(".") if x.isdigit()],
                  reverse=True)


def find_python(version: str) -> Path:
    """A Python `version` (e.g. "3.13") to build an environment on, or SetupError saying how to get one."""
    variable = f"FACE_MOCAP_PYTHON{version.replace('.', '')}"
    candidates = [Path(p) for p in (os.environ.get(variable), shutil.which(f"python{version}")) if p]
    for python in [*candidates, *pyenv_pythons(version)]:
        probe = subprocess.run([str(python), "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return python
    raise SetupError(f"Python {version} is needed (bpy for this Blender exists only for Python {version}) and "
                     f"none was found: install it (`pyenv install {version}`, or your system's python{version} "
                     f"with its venv module), put python{version} on PATH or set {variable}=/path/to/python{version}")


def ensure_env(env: str) -> Path:
    """Create or refresh one virtual environment from its pinned requirements."""
    requirements = ENVIRONMENTS[env]
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    marker = VENVS / env / ".requirements-sha256"
    python = python_of(env)
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    base = find_python(PYTHON_OF_ENV[env]) if env in PYTHON_OF_ENV else Path(sys.executable)
    log(f"setting up the {env} environment on {base} (first run only)")
    started = time.monotonic()
    subprocess.run([str(base), "-m", "venv", "--clear", str(VENVS / env)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check",  # errors only
                    "-r", str(requirements)], check=True)
    marker.write_text(digest)
    log(f"{env} environment ready in {time.monotonic() - started:.0f} s")
    return python


def ensure_model() -> Path:
    """Fetch and verify the FaceLandmarker model into the user cache."""
    capture = ensure_env("capture")
    subprocess.run([str(capture), "-m", "capture.model", "fetch"], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return MODEL


def setup(envs: tuple[str, ...] = tuple(ENVIRONMENTS)) -> None:
    for env in envs:
        ensure_env(env)
    ensure_model()


def test_environment() -> dict[str, str]:
    return {
        **os.environ,
        "FACE_MOCAP_CAPTURE_PYTHON": str(python_of("capture")),
        "FACE_MOCAP_MODEL": str(MODEL),
        "FACE_MOCAP_SHARED": str(REPO.parent / "shared"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_tier(name: str, env: str, paths: list[str], results: Path) -> tuple[int, int, int]:
    """Run pytest for one tier; return (passed, failed, skipped)."""
    log(f"tier {name}: {' '.join(paths)} ({env} environment)")
    report = results / f"{name}.xml"
    started = time.monotonic()
    report.unlink(missing_ok=True)  # a tier that dies half-way must not be read from an earlier run's report
    done = subprocess.run([str(python_of(env)), "-m", "pytest", "-q", "-o", f"cache_dir={CACHE / 'pytest' / name}",
                           f"--junitxml={report}", *paths], cwd=REPO, env=test_environment())
    log(f"tier {name} took {time.monotonic() - started:.0f} s")
    if not report.exists():  # pytest writes it when the session ends: it crashed before that
        log(f"tier {name}: pytest ended with code {done.returncode} before writing its report")
        return 0, 1, 0
    # bpy 4.2 as a module crashes in its own teardown after Rigify has generated a rig or its glTF
    # exporter has run (a bare script doing only that does too): every test has run by then
    if done.returncode not in (0, 1):
        log(f"tier {name}: pytest exited with code {done.returncode} after its report was written")
    suites = ElementTree.parse(report).getroot().iter("testsuite")
    tests = failures = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    if tests == 0:  # a tier that collects nothing is a failure, not a pass
        failures += 1
    return tests - failures - skipped, failures, skipped


def test(tiers: list[str]) -> int:
    started = time.monotonic()
    ensure_model()  # the capture environment and the verified model: every tier uses them
    results = CACHE / "test-results"
    results.mkdir(parents=True, exist_ok=True)
    passed = failed = skipped = 0
    for name in tiers:
        env, paths = PLAN[name]
        try:
            ensure_env(env)
        except SetupError as exc:  # say what to install, run the other tiers, fail at the end
            log(f"tier {name} cannot run: {exc}")
            failed += 1
            continue
        p, f, s = run_tier(name, env, paths, results)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"{passed} passed, {failed} failed, {skipped} skipped in {(time.monotonic() - started) / 60:.1f} min")
    return 1 if failed or skipped else 0


def demo(video: str | None) -> int:
    setup(("capture", "blender"))
    out = REPO / "out" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    env = {**test_environment(), "PYTHONPATH": str(REPO)}
    if video is None:
        video = str(out / "astronaut.mp4")
        subprocess.run([str(python_of("capture")), "-m", "capture.synthetic", video], check=True, cwd=REPO, env=env)
    command = [str(python_of("blender")), str(TOOLS / "demo.py"), "--video", video, "--out", str(out)]
    return subprocess.run(command, cwd=REPO, env=env).returncode


def build() -> int:
    setup(("capture", "blender"))
    return subprocess.run([str(python_of("blender")), str(TOOLS / "build_extension.py")], cwd=REPO).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create the environments and fetch the model")
    commands.add_parser("build", help="build the Blender extension zip into dist/")
    test_parser = commands.add_parser("test", help="run the test tiers")
    test_parser.add_argument("tiers", nargs="*", default=list(PLAN), help=f"any of {', '.join(PLAN)} (default: all)")
    demo_parser = commands.add_parser("demo", help="run the whole product headless on a clip")
    demo_parser.add_argument("video", nargs="?", help="a video of a face (default: a generated clip)")
    args = parser.parse_args()
    if args.command == "setup":
        try:
            setup()
        except SetupError as exc:
            log(str(exc))
            return 1
        return 0
    if args.command == "test":
        if unknown := [tier for tier in args.tiers if tier not in PLAN]:
            parser.error(f"unknown tier(s) {', '.join(unknown)}: choose from {', '.join(PLAN)}")
        return test(args.tiers)
    if args.command == "build":
        return build()
    return demo(args.video)


if __name__ == "__main__":
    sys.exit(main())
