"""Bake and Retarget in steps (the modal operator's path): Esc leaves the rig exactly as it was,
a bake that runs to the end keys the whole take. bpy as a module has no event loop, so the test
hands the operator's events to bake_run.on_event() itself, as its modal() does."""

from __future__ import annotations

import bpy
import pytest

from bake_scene import curves_by_path, keys, set_fps
from face_mocap.ui import bake_run, livelink_io, takes_io
from face_mocap.ui.bake_run import BakeRun, on_event
from live_scene import make_rig

FPS = 30


@pytest.fixture()
def one_curve_per_event(monkeypatch):
    """Each timer event writes one f-curve, as on a slow machine with a long take."""
    monkeypatch.setattr(bake_run, "STEP_BUDGET_S", 0.0)


def curve_keys(action: bpy.types.Action) -> list:
    """Every f-curve of an action with its keys, on 4.2 (legacy) and 4.4+ (layered) actions."""
    if hasattr(action, "layers"):
        fcurves = [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags
                   for fc in bag.fcurves]
    else:
        fcurves = list(action.fcurves)
    return sorted((fc.data_path, fc.array_index, tuple(tuple(k.co) for k in fc.keyframe_points)) for fc in fcurves)


def file_state() -> dict:
    """Everything a bake could leave behind: actions and their keys, what each object plays,
    mapping rows, shape key values and the pose."""
    state = {"actions": sorted((a.name, a.users, a.use_fake_user) for a in bpy.data.actions)}
    for obj in bpy.data.objects:
        data = obj.data.shape_keys if obj.type == "MESH" else obj
        anim = data.animation_data if data is not None else None
        state[obj.name] = {
            "action": anim.action.name if anim is not None and anim.action is not None else None,
            "curves": curve_keys(anim.action) if anim is not None and anim.action is not None else [],
            "rows": [(r.source, r.target, r.target_type) for r in obj.face_mocap.rows],
            "preset": obj.face_mocap.preset,
            "props": sorted(obj.keys()),
        }
        if obj.type == "MESH" and obj.data.shape_keys is not None:
            state[obj.name]["keys"] = [(k.name, k.value) for k in obj.data.shape_keys.key_blocks]
        if obj.type == "ARMATURE":
            state[obj.name]["pose"] = [(b.name, tuple(b.rotation_quaternion), tuple(b.rotation_euler),
                                        tuple(b.location)) for b in obj.pose.bones]
    return state


def scene_with_a_take(interop):
    """The test character with its mapping and an earlier action on the face, and a Live Link take."""
    face, rig = make_rig()
    set_fps(FPS)
    assert bpy.ops.facemocap.auto_detect_mapping() == {"FINISHED"}
    jaw = face.data.shape_keys.key_blocks["jawOpen"]
    for frame, value in ((1, 0.0), (12, 0.7)):  # an earlier animation of the face, by hand
        jaw.value = value
        jaw.keyframe_insert("value", frame=frame)
    face.data.shape_keys.animation_data.action.name = "Earlier"
    jaw.value = 0.0
    item, _ = livelink_io.import_livelink(bpy.context.scene, str(interop / "MySlate_3_Jason_Millers_iPhone.csv"))
    return face, rig, item


def bake_until(run: BakeRun, curves: int) -> None:
    """Timer events until at least `curves` f-curves are written (and not all of them)."""
    for _ in range(10_000):
        assert on_event(run, "TIMER") == "RUNNING"
        if run.fraction and len(bpy.data.actions) > 1 and run.fraction * 100 >= curves:
            return
    raise AssertionError("the bake never got going")


def test_esc_half_way_leaves_the_rig_exactly_as_it_was(addon, interop, one_curve_per_event):
    face, rig, item = scene_with_a_take(interop)
    before = file_state()
    run = BakeRun(bpy.context.scene, takes_io.resolve(item), item.name, face, rig)
    bake_until(run, 10)
    assert 0.0 < run.fraction < 1.0 and file_state() != before  # half-made: actions with some keys
    assert on_event(run, "MOUSEMOVE") == "RUNNING" and on_event(run, "ESC") == "CANCELLED"
    assert file_state() == before
    assert bpy.data.actions.keys() == ["Earlier"]  # no orphan action either


def test_esc_on_a_retarget_also_takes_back_the_rows_it_auto_detected(addon, interop, one_curve_per_event):
    _face, _rig, item = scene_with_a_take(interop)
    other_face, other_rig = make_rig()  # a second character, no mapping yet (names get .001)
    other_face.face_mocap.rows.clear()
    other_rig.face_mocap.rows.clear()
    before = file_state()
    run = BakeRun(bpy.context.scene, takes_io.resolve(item), item.name, other_face, other_rig,
                  detect_when_empty=True)
    bake_until(run, 5)
    assert len(other_face.face_mocap.rows) and run.detected_rows
    assert on_event(run, "ESC") == "CANCELLED"
    assert file_state() == before


def test_a_bake_run_to_the_end_keys_the_whole_take(addon, interop, one_curve_per_event):
    face, rig, item = scene_with_a_take(interop)
    run = BakeRun(bpy.context.scene, takes_io.resolve(item), item.name, face, rig, start_frame=1)
    events = 0
    while (state := on_event(run, "TIMER")) == "RUNNING":
        events += 1
    assert state == "FINISHED" and run.fraction == 1.0
    result = run.result
    assert events > result.fcurve_count > 50  # one curve per event, after the mapping step
    shape_curves = curves_by_path(face.data.shape_keys)
    jaw = keys(shape_curves[('key_blocks["jawOpen"].value', 0)])
    assert jaw[0, 0] == 1.0 and abs(len(jaw) - item.duration * FPS) <= 1
    assert jaw[:, 1].max() - jaw[:, 1].min() > 0.2  # the take's jaw opens and closes
    assert face.data.shape_keys.animation_data.action.name == f"{item.name}_Face_shapes"
    assert bpy.data.actions["Earlier"].use_fake_user  # the replaced action is kept
    assert "Baked take" in run.report()
