#!/usr/bin/env python3
"""Developer commands: set up both environments, run the demo, run the tests.

    python3 tools/dev.py demo [VIDEO]   the whole product, headless, on a clip
    python3 tools/dev.py test           every test tier (capture, mapping, Blender 5.0, Blender 4.2)
    python3 tools/dev.py build          the Blender extension zip (dist/), wheels and model inside
    python3 tools/dev.py setup          only create the environments and fetch the model

Environments live in ~/.cache/face_mocap/venvs and are rebuilt when their requirements
file changes. Standard library only: this runs on the system Python.
"""

from __future__ import annotations

import argparse
import hashlib
import os
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
}


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def python_of(env: str) -> Path:
    return VENVS / env / "bin" / "python"


def ensure_env(env: str) -> Path:
    """Create or refresh one virtual environment from its pinned requirements."""
    requirements = ENVIRONMENTS[env]
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    marker = VENVS / env / ".requirements-sha256"
    python = python_of(env)
    if python.exists() and marker.exists() and marker.read_text() == digest:
        return python
    log(f"setting up the {env} environment (first run only)")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENVS / env)], check=True)
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


def setup(envs: tuple[str, ...] = ("capture", "blender", "blender-4.2")) -> None:
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
    subprocess.run([str(python_of(env)), "-m", "pytest", "-q", "-o", f"cache_dir={CACHE / 'pytest' / name}",
                    f"--junitxml={report}", *paths], cwd=REPO, env=test_environment())
    log(f"tier {name} took {time.monotonic() - started:.0f} s")
    if not report.exists():
        return 0, 1, 0
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
    setup()
    results = CACHE / "test-results"
    results.mkdir(parents=True, exist_ok=True)
    plan = {
        "capture": ("capture", ["tests/capture"]),
        "mapping": ("blender", ["tests/mapping"]),
        "blender": ("blender", ["tests/blender"]),
        "blender-4.2": ("blender-4.2", ["tests/blender"]),
    }
    passed = failed = skipped = 0
    for name in tiers:
        env, paths = plan[name]
        p, f, s = run_tier(name, env, paths, results)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
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
    test_parser.add_argument("tiers", nargs="*", default=["capture", "mapping", "blender", "blender-4.2"])
    demo_parser = commands.add_parser("demo", help="run the whole product headless on a clip")
    demo_parser.add_argument("video", nargs="?", help="a video of a face (default: a generated clip)")
    args = parser.parse_args()
    if args.command == "setup":
        setup()
        return 0
    if args.command == "test":
        return test(args.tiers)
    if args.command == "build":
        return build()
    return demo(args.video)


if __name__ == "__main__":
    sys.exit(main())
