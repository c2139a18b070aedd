"""Bake and Retarget in steps (the modal operator's path): Esc leaves the rig exactly as it was,
a bake that runs to the end keys the whole take. bpy as a module has no event loop, so the test
hands the operator's events to bake_run.on_event() itself, as its modal() does."""

from __future__ import annotations

import bpy
import pytest

from bake_scene import curves_by_path, file_state, keys, set_fps, timer_event
from face_mocap.ui import bake_run, livelink_io, takes_io
from face_mocap.ui.bake_run import BakeBatch, BakeRun, on_event
from live_scene import make_rig

FPS = 30


@pytest.fixture()
def one_curve_per_event(monkeypatch):
    """Each timer event writes one f-curve, as on a slow machine with a long take."""
    monkeypatch.setattr(bake_run, "STEP_BUDGET_S", 0.0)


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


def bake_until(run: BakeBatch, curves: int) -> None:
    """Timer events until at least `curves` f-curves are written (and not all of them)."""
    for _ in range(10_000):
        assert timer_event(run) == "RUNNING"
        if run.fraction and len(bpy.data.actions) > 1 and run.fraction * 100 >= curves:
            return
    raise AssertionError("the bake never got going")


def test_esc_half_way_leaves_the_rig_exactly_as_it_was(addon, interop, one_curve_per_event):
    face, rig, item = scene_with_a_take(interop)
    before = file_state()
    run = BakeBatch([BakeRun(bpy.context.scene, takes_io.resolve(item), item.name, face, rig)])
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
    run = BakeBatch([BakeRun(bpy.context.scene, takes_io.resolve(item), item.name, other_face, other_rig,
                             detect_when_empty=True)])
    bake_until(run, 5)
    assert len(other_face.face_mocap.rows) and run.main.detected_rows
    assert on_event(run, "ESC") == "CANCELLED"
    assert file_state() == before


def test_a_bake_run_to_the_end_keys_the_whole_take(addon, interop, one_curve_per_event):
    face, rig, item = scene_with_a_take(interop)
    run = BakeBatch([BakeRun(bpy.context.scene, takes_io.resolve(item), item.name, face, rig, start_frame=1)])
    events = 0
    while (state := timer_event(run)) == "RUNNING":
        events += 1
    assert state == "FINISHED" and run.fraction == 1.0
    result = run.main.result
    # the mapping (polled until its thread is done), then a curve per event; the event of the
    # last one also places the actions
    assert events >= result.fcurve_count > 50
    shape_curves = curves_by_path(face.data.shape_keys)
    jaw = keys(shape_curves[('key_blocks["jawOpen"].value', 0)])
    assert jaw[0, 0] == 1.0 and abs(len(jaw) - item.duration * FPS) <= 1
    assert jaw[:, 1].max() - jaw[:, 1].min() > 0.2  # the take's jaw opens and closes
    assert face.data.shape_keys.animation_data.action.name == f"{item.name}_Face_shapes"
    assert bpy.data.actions["Earlier"].use_fake_user  # the replaced action is kept
    assert "Baked take" in run.report()
