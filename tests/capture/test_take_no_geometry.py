"""Takes without face geometry (metadata "face_geometry": false, format version 2): no landmarks on disk."""

import numpy as np
import pytest

from face_mocap.capture.takes import (NO_GEOMETRY_VERSION, TakeWriter, empty_arrays, has_geometry, read_take,
                                      write_take)


def _arrays(count: int) -> dict:
    arrays = empty_arrays(count, 2)
    arrays["timestamps_us"] = np.arange(count, dtype=np.int64) * 16_667
    arrays["face_found"][:] = True
    arrays["blendshapes"][:] = np.linspace(0, 1, count * 52, dtype=np.float32).reshape(count, 52)
    arrays["channels"][:] = 0.25
    del arrays["landmarks"], arrays["transforms"]  # a source without geometry has none to give
    return arrays


def test_take_without_geometry_stores_no_landmarks(tmp_path):
    meta = {"face_geometry": False, "channel_names": ["headYaw", "headPitch"]}
    with TakeWriter(tmp_path / "g.fmtake", meta) as writer:
        writer.append_arrays(_arrays(100))
        writer.append_arrays(_arrays(50))
    path = tmp_path / "g.fmtake"
    per_frame = 8 + 8 + 1 + 52 * 4 + 2 * 4
    size = path.stat().st_size
    assert size < 150 * per_frame + 1024, f"{size} bytes for 150 frames: landmarks were stored"
    take = read_take(path)
    assert take.complete and take.frame_count == 150
    assert take.metadata["format_version"] == NO_GEOMETRY_VERSION and not has_geometry(take.metadata)
    assert take.landmarks.shape == (150, 478, 3) and take.transforms.shape == (150, 4, 4)
    assert np.isnan(take.landmarks).all() and np.isnan(take.transforms).all()
    assert not take.landmarks.flags.writeable  # broadcast: no memory behind it
    assert take.landmarks.strides == (0, 0, 0)
    np.testing.assert_array_equal(take.blendshapes[100:], _arrays(50)["blendshapes"])
    with pytest.raises(ValueError):
        take.landmarks[0, 0, 0] = 1.0


def test_rewriting_a_take_without_geometry_keeps_it_small(tmp_path):
    meta = {"face_geometry": False, "channel_names": ["headYaw", "headPitch"]}
    with TakeWriter(tmp_path / "a.fmtake", meta) as writer:
        writer.append_arrays(_arrays(10))
    again = write_take(tmp_path / "b.fmtake", read_take(tmp_path / "a.fmtake"))
    assert again.stat().st_size == (tmp_path / "a.fmtake").stat().st_size
    assert not has_geometry(read_take(again).metadata)


def test_takes_with_geometry_are_unchanged(tmp_path):
    arrays = empty_arrays(3)
    arrays["landmarks"][:] = 0.5
    with TakeWriter(tmp_path / "c.fmtake", {}) as writer:
        writer.append_arrays(arrays)
    take = read_take(tmp_path / "c.fmtake")
    assert take.metadata["format_version"] == 1 and has_geometry(take.metadata)
    assert take.landmarks.flags.writeable and (take.landmarks == 0.5).all()
