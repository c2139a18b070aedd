"""Presets on real armatures (bpy): a rig Rigify generates and a plain game-style rig.
Names are found and the rows move the face the right way (turn left, open the jaw, look,
close the lids, raise the brows, smile)."""

from collections import defaultdict

import numpy as np
import pytest

from face_mocap.mapping.autodetect import auto_detect
from face_mocap.mapping.channels import CHANNEL_INDEX, N_CHANNELS


@pytest.fixture(scope="module")
def rigify_rig():
    """(armature object, bone names, rest matrices) of a freshly generated human Rigify rig."""
    import bpy  # first: it puts Blender's own modules (addon_utils) on the path
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.active_object
    bpy.ops.pose.rigify_generate()
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE" and o is not metarig)
    rest = {b.name: np.array(b.matrix_local.to_3x3()) for b in rig.data.bones}
    yield rig, [b.name for b in rig.data.bones], rest
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _pose(rig, table, channel: str, value: float) -> None:
    """Pose the rig with the table's values for one channel at `value` (the others 0): a
    bone's rotation targets are a rotation vector in its rest frame, its location targets a
    vector, as the add-on applies them."""
    values = np.zeros(N_CHANNELS)
    values[CHANNEL_INDEX[channel]] = value
    vectors: dict = defaultdict(lambda: np.zeros(3))
    for target, v in table.evaluate_frame(values).items():
        if target.kind.startswith("bone_"):
            vectors[(target.kind, target.name)][target.axis] += v
    for (kind, name), vector in vectors.items():
        bone = rig.pose.bones[name]
        if kind == "bone_location":
            bone.location = vector
            continue
        angle = float(np.linalg.norm(vector))
        bone.rotation_mode = "AXIS_ANGLE"
        bone.rotation_axis_angle = (angle, *(vector / angle)) if angle > 0 else (0.0, 0.0, 1.0, 0.0)


def _rest(rig) -> None:
    import bpy

    for b in rig.pose.bones:
        b.rotation_mode = "AXIS_ANGLE"
        b.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
        b.location = (0, 0, 0)
    bpy.context.view_layer.update()


def _moved(rig, table, channel: str, value: float, bone: str, point: str = "tail") -> np.ndarray:
    """Movement of a bone's head/tail (armature space) when one channel is applied."""
    import bpy

    _rest(rig)
    pose_bone = rig.pose.bones[bone]
    before = np.array(getattr(pose_bone, point))
    _pose(rig, table, channel, value)
    bpy.context.view_layer.update()
    after = np.array(getattr(pose_bone, point))
    _rest(rig)
    return after - before


def test_generated_rig_is_detected_and_rest_axes_match_the_preset(rigify_rig):
    rig, names, rest = rigify_rig
    guessed, report = auto_detect([], names)
    exact, _ = auto_detect([], names, bone_rest=rest)
    assert report.rig == "rigify" and not report.missing_bones
    assert {"head", "neck", "jaw_master", "eye.L", "eye.R"} <= set(report.bones.values())
    # the orientations the preset assumes are close to the ones Rigify generates (the exact
    # rows on tilted bones such as the neck add small parts on other local axes)
    def vectors(table):
        out: dict = defaultdict(lambda: np.zeros(3))
        for row in table.rows:
            out[(row.source, row.target.kind, row.target.name)][row.target.axis] += row.factor
        return out

    exact_vectors = vectors(exact)
    for key, vector in vectors(guessed).items():
        cosine = vector @ exact_vectors[key] / np.linalg.norm(vector) / np.linalg.norm(exact_vectors[key])
        assert cosine > 0.9, key


def test_rows_move_the_face_the_right_way(rigify_rig):
    rig, names, rest = rigify_rig
    table, _ = auto_detect([], names, bone_rest=rest)
    rows = table
    # the nose swings to the character's left (+X) when the head turns left, down when it nods
    assert _moved(rig, rows, "headYaw", 0.3, "nose_master", "head")[0] > 0.01
    assert _moved(rig, rows, "headPitch", 0.3, "nose_master", "head")[2] < -0.005
    assert _moved(rig, rows, "headRoll", 0.3, "head")[0] > 0.01  # tilts toward the left shoulder
    assert _moved(rig, rows, "jawAngle", 0.3, "jaw_master")[2] < -0.005  # the chin drops
    assert _moved(rig, rows, "eyeLeftYaw", 0.3, "eye.L", "head")[0] > 0.01  # target moves left
    assert _moved(rig, rows, "eyeLeftPitch", 0.3, "eye.L", "head")[2] < -0.01  # looks down
    assert _moved(rig, rows, "eyeBlinkLeft", 1.0, "lid.T.L.002", "head")[2] < -0.004  # lid closes
    assert _moved(rig, rows, "browOuterUpLeft", 1.0, "brow.T.L.001", "head")[2] > 0.004
    smile = _moved(rig, rows, "mouthSmileLeft", 1.0, "lips.L", "head")
    assert smile[2] > 0.004 and smile[0] > 0.002  # corner up and out (left is +X)


@pytest.fixture
def plain_rig():
    """An armature as a game or Mixamo-style rig might have: neck and head up, jaw forward and
    down, eyes pointing exactly forward (Blender flips their X axis)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = bpy.data.armatures.new("Plain")
    rig = bpy.data.objects.new("Plain", arm)
    bpy.context.scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    bones = {"Neck": ((0, 0, 1.5), (0, 0, 1.6), None), "Head": ((0, 0, 1.6), (0, 0, 1.8), "Neck"),
             "Jaw": ((0, 0, 1.62), (0, -0.08, 1.57), "Head"), "LeftEye": ((0.03, -0.08, 1.68), (0.03, -0.1, 1.68), "Head"),
             "RightEye": ((-0.03, -0.08, 1.68), (-0.03, -0.1, 1.68), "Head")}
    for name, (head, tail, parent) in bones.items():
        bone = arm.edit_bones.new(name)
        bone.head, bone.tail = head, tail
        if parent:
            bone.parent = arm.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    yield rig, list(bones), {b.name: np.array(b.matrix_local.to_3x3()) for b in arm.bones}
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _aim(rig, table, channel: str, value: float, bone: str) -> np.ndarray:
    """Direction (armature space) of a bone's Y axis after applying one channel."""
    import bpy

    _rest(rig)
    _pose(rig, table, channel, value)
    bpy.context.view_layer.update()
    aim = np.array(rig.pose.bones[bone].matrix.to_3x3().col[1])
    _rest(rig)
    return aim


def test_generic_preset_on_a_plain_rig(plain_rig):
    rig, names, rest = plain_rig
    table, report = auto_detect([], names, bone_rest=rest)
    assert report.rig == "generic_armature" and not report.missing_bones
    rows = table
    assert _moved(rig, rows, "headYaw", 0.3, "LeftEye", "head")[0] > 0.01  # face turns left (+X)
    assert _moved(rig, rows, "jawAngle", 0.3, "Jaw")[2] < -0.005  # chin drops
    for eye, channel in (("LeftEye", "eyeLeft"), ("RightEye", "eyeRight")):
        assert _aim(rig, rows, f"{channel}Yaw", 0.3, eye)[0] > 0.2  # looks to the left
        assert _aim(rig, rows, f"{channel}Pitch", 0.3, eye)[2] < -0.2  # looks down
