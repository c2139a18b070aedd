"""Landmarks on still images without Blender: the real capture process on a folder of renders."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from link_fixtures import options_for  # noqa: F401 (fixture)
from face_mocap.link.errors import LaunchError
from face_mocap.link.still_landmarks import first_face


@pytest.fixture(scope="module")
def face_image(facedata, tmp_path_factory):
    """A frame of a real clip with one face, as a PNG."""
    video = cv2.VideoCapture(str(facedata / "grid/bbaf2n.mpg"))
    ok, frame = video.read()
    video.release()
    assert ok
    path = tmp_path_factory.mktemp("still") / "face.png"
    cv2.imwrite(str(path), frame)
    return path, frame.shape[:2]


def write_images(folder, *images):
    folder.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"{i:02d}.png"), image)
    return folder


def test_the_first_image_with_a_face_and_its_landmarks(options_for, face_image, tmp_path):
    path, (height, width) = face_image
    blank = np.full((height, width, 3), 40, np.uint8)
    folder = write_images(tmp_path / "views", blank, cv2.imread(str(path)), cv2.imread(str(path)))
    index, landmarks = first_face(options_for(str(folder)), tmp_path / "found.fmtake")
    assert index == 1 and landmarks.shape == (478, 3)
    box = landmarks[:, :2].max(axis=0) - landmarks[:, :2].min(axis=0)
    assert 0.0 <= landmarks[:, :2].min() and landmarks[:, :2].max() <= 1.0 and box.min() > 0.05
    assert not (tmp_path / "found.fmtake").exists()  # read and removed


def test_no_face_anywhere_is_none(options_for, tmp_path):
    folder = write_images(tmp_path / "views", np.full((240, 320, 3), 200, np.uint8))
    assert first_face(options_for(str(folder)), tmp_path / "none.fmtake") is None


def test_an_unusable_interpreter_or_model_says_so_before_launching(options_for, face_image, tmp_path):
    path, _ = face_image
    with pytest.raises(LaunchError, match="Capture interpreter not found"):
        first_face(options_for(str(path), interpreter=str(tmp_path / "no_python")), tmp_path / "x.fmtake")
    with pytest.raises(LaunchError, match="Model override"):
        first_face(options_for(str(path), model=str(tmp_path / "missing.task")), tmp_path / "x.fmtake")
