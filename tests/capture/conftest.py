"""Capture-tier fixtures: run the real capture process, share each clip's offline take."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from face_mocap.capture.takes import Take, read_take


def capture_env(repo_root: Path, model_path: Path, **extra: str) -> dict[str, str]:
    """The environment Blender gives the capture process: PYTHONPATH = the add-on folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("FACE_MOCAP_TOKEN", "PYTHONPATH")}
    env.update(PYTHONPATH=str(repo_root), FACE_MOCAP_MODEL=str(model_path), **extra)
    return env


@pytest.fixture(scope="session")
def make_env(repo_root, model_path):
    """capture_env() for this checkout and model, with extra variables."""
    return lambda **extra: capture_env(repo_root, model_path, **extra)


@pytest.fixture(scope="session")
def run_capture(repo_root, model_path, capture_python):
    """Run `python -m <module> ARGS` in the capture interpreter; return the finished process."""

    def run(*args: str, module: str = "capture", env: dict | None = None, stdin: str | None = None,
            timeout: float = 120.0, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([capture_python, "-m", module, *map(str, args)], cwd=cwd or repo_root,
                              env=env or capture_env(repo_root, model_path), input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def offline_take(run_capture, facedata, tmp_path_factory):
    """Capture a clip from ../shared/facedata once per session; return (Take, summary stdout)."""
    cache: dict[str, tuple[Take, str]] = {}
    out_dir = tmp_path_factory.mktemp("takes")

    def get(clip: str) -> tuple[Take, str]:
        if clip not in cache:
            out = out_dir / (clip.replace("/", "_") + ".fmtake")
            result = run_capture("--source", facedata / clip, "--out", out)
            assert result.returncode == 0, result.stderr
            cache[clip] = (read_take(out), result.stdout)
        return cache[clip]

    return get


@pytest.fixture()
def spawn_capture(repo_root, model_path, capture_python):
    """Start the capture process without waiting (live mode); every process is ended afterwards."""
    procs: list[subprocess.Popen] = []

    def spawn(*args: str, token: str | None = None, stdin_token: str | None = None) -> subprocess.Popen:
        extra = {"FACE_MOCAP_TOKEN": token} if token is not None else {}
        proc = subprocess.Popen([capture_python, "-m", "capture", *map(str, args)], cwd=repo_root,
                                env=capture_env(repo_root, model_path, **extra),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if stdin_token is not None:
            proc.stdin.write(stdin_token + "\n")
            proc.stdin.flush()
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)

