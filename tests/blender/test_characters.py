"""Two people drive two demo heads, each its own person, baked and live; the people walk past
each other and change places halfway (tests/capture/two_people.py, real GRID footage tracked by
the real capture process), and the heads do not swap."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from bake_scene import curves_by_path, file_state, timer_event
from face_mocap.capture.takes import read_take
from face_mocap.ui import bake, bake_run, characters, live, takes_io
from face_mocap.ui.bake_run import BakeBatch, BakeRun, on_event
from live_scene import run_timer_until, use_video
from people_scene import check_each_head_follows_its_person, follows, jaw_by_person, performer_of, two_heads


def test_two_faces_bake_onto_two_heads_each_following_its_person(addon, clip_and_take):
    _, take_path = clip_and_take
    first, second = two_heads()
    takes_io.list_take(bpy.context.scene, take_path)
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    take = read_take(take_path)
    jaw = jaw_by_person(take)
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    frames = bpy.context.scene.face_mocap.bake_start_frame + (take.timestamps_us - take.timestamps_us[0]) / 1e6 * fps
    heads = {}
    for key, mesh in (("first", first), ("second", second)):
        curve = curves_by_path(mesh.data.shape_keys)[('key_blocks["jawOpen"].value', 0)]
        heads[key] = np.array([curve.evaluate(f) for f in frames])
    check_each_head_follows_its_person(heads, jaw, performer_of(take, jaw), "bake")


def test_two_faces_drive_two_heads_live(addon, clip_and_take):
    clip, _ = clip_and_take
    first, second = two_heads()
    use_video(clip, realtime=True)
    bpy.context.scene.face_mocap.num_faces = 2
    assert bpy.ops.facemocap.start_capture() == {"FINISHED"}
    assert bpy.ops.facemocap.record() == {"FINISHED"}
    samples: list[tuple[int, float, float]] = []
    calibrated: list[str] = []

    def sample() -> bool:
        rigs = (live.rig(), *characters._Live.rigs)
        applied = {rig.last_result.timestamp_s for rig in rigs if rig is not None and rig.last_result is not None}
        if len(rigs) == 2 and len(applied) == 1:  # both heads show the same frame: which one, by its time
            keys = (first.data.shape_keys.key_blocks, second.data.shape_keys.key_blocks)
            samples.append((round(applied.pop() * 1e6), keys[0]["jawOpen"].value, keys[1]["jawOpen"].value))
            if samples[-1][0] >= 225 * 40_000 and not calibrated:  # near the end: each head on its own person
                assert bpy.ops.facemocap.calibrate_neutral() == {"FINISHED"}
                calibrated.append(samples[-1][0])
        return not live.is_running()

    run_timer_until(sample, 60.0)
    if live.is_running():
        bpy.ops.facemocap.stop_capture()
    take = read_take(takes_io.resolve(bpy.context.scene.face_mocap.takes[0]))
    assert take.face_slots == 2
    jaw = jaw_by_person(take)
    by_time = {int(stamp): row for row, stamp in enumerate(take.timestamps_us)}
    heads = {key: np.full(take.frame_count, np.nan) for key in ("first", "second")}
    for stamp, one, two in samples:  # what each head shows once that frame was applied
        if stamp in by_time and stamp < calibrated[0]:  # before the calibration changed the values
            heads["first"][by_time[stamp]], heads["second"][by_time[stamp]] = one, two
    print(f"live: {len(samples)} samples over {take.frame_count} recorded frames")
    settings = bpy.context.scene.face_mocap
    assert calibrated
    own, theirs = (json.loads(text) for text in (settings.calibration, settings.characters[0].calibration))
    assert calibrated and theirs and own != theirs  # the second head calibrated on its own person
    check_each_head_follows_its_person(heads, jaw, performer_of(take, jaw), "live")


def test_a_script_bakes_any_person_onto_any_rig(addon, clip_and_take):
    """api.bake(person=2): the second person's jaw on the targets, the performer's stays out."""
    from face_mocap import api

    _, take_path = clip_and_take
    assert bpy.ops.facemocap.add_demo_head() == {"FINISHED"}
    mesh = bpy.context.scene.face_mocap.target_mesh
    api.bake(take_path, person=2, start_frame=1)
    take = read_take(take_path)
    jaw = jaw_by_person(take)
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    curve = curves_by_path(mesh.data.shape_keys)[('key_blocks["jawOpen"].value', 0)]
    head = np.array([curve.evaluate(1 + (t - take.timestamps_us[0]) / 1e6 * fps) for t in take.timestamps_us])
    performer = performer_of(take, jaw)
    other = "A" if performer == "B" else "B"
    correlation = follows(head, jaw, np.arange(take.frame_count))
    assert correlation[other] > 0.8 and correlation[other] > correlation[performer] + 0.5


def bake_of_both_heads(take_path) -> BakeBatch:
    """Bake Take's run over the targets and the list's characters, as the operator makes it."""
    scene = bpy.context.scene
    settings = scene.face_mocap
    name = takes_io.take_stem(take_path)
    return BakeBatch([BakeRun(scene, take_path, name, settings.target_mesh, settings.target_armature),
                      *characters.character_runs(scene, take_path, name)])


def test_esc_while_the_second_head_bakes_leaves_both_as_they_were(addon, clip_and_take, monkeypatch):
    """The characters bake inside the one modal run: the progress bar covers them and Esc takes
    back the targets' bake too, although its f-curves were all written."""
    monkeypatch.setattr(bake_run, "STEP_BUDGET_S", 0.0)  # one f-curve per event, as with a long take
    _, take_path = clip_and_take
    two_heads()
    takes_io.list_take(bpy.context.scene, take_path)
    before = file_state()
    batch = bake_of_both_heads(take_path)
    assert [run.label for run in batch.runs] == ["", bpy.context.scene.face_mocap.characters[0].name]
    fractions = []
    while batch.current is batch.main or batch.current.fraction < 0.5:
        assert timer_event(batch) == "RUNNING"
        fractions.append(batch.fraction)
    assert fractions == sorted(fractions) and 0.7 < fractions[-1] < 1.0, fractions[-3:]
    assert file_state() != before  # half-made: the second head's actions, with some keys
    assert on_event(batch, "ESC") == "CANCELLED"
    assert file_state() == before


def test_an_error_on_the_second_head_leaves_the_first_unbaked(addon, clip_and_take):
    """A character with nothing to bake onto: the error names it and no rig keeps a bake."""
    _, take_path = clip_and_take
    two_heads()
    item = bpy.context.scene.face_mocap.characters[0]
    for obj in (item.mesh, item.armature):
        for row in obj.face_mocap.rows:
            row.target = "not on this head"
    takes_io.list_take(bpy.context.scene, take_path)
    before = file_state()
    batch = bake_of_both_heads(take_path)
    with pytest.raises(bake.BakeError, match=f"character '{item.name}': nothing to bake"):
        batch.run_all()
    assert file_state() == before
