"""Mapping tables, presets and auto-detection on real rig names and real channels."""

import math

import numpy as np
import pytest

from face_mocap.mapping import channels as ch
from face_mocap.mapping.autodetect import (auto_detect, is_rigify, load_preset, local_components,
                                           preset_names, preset_table)
from face_mocap.mapping.errors import RetargetError
from face_mocap.mapping.retarget import SOURCE_INDEX, MappingRow, MappingTable, Target

RIGIFY_BONES = [  # names a generated Rigify human rig (legacy face) has, with its ORG/MCH/DEF copies
    "root", "torso", "hips", "chest", "neck", "head", "neck_bend", "MCH-ROT-neck", "MCH-ROT-head",
    "MCH-STR-neck", "ORG-spine.004", "ORG-spine.006", "DEF-spine.006", "ORG-face", "jaw_master",
    "MCH-jaw_master", "MCH-jaw_master.001", "DEF-jaw", "ORG-jaw", "eyes", "eye.L", "eye.R",
    "master_eye.L", "master_eye.R", "MCH-eyes_parent", "ORG-eye.L", "ORG-eye.R", "DEF-eye.L",
    "lid.T.L", "lid.T.L.001", "lid.T.L.002", "lid.T.L.003", "lid.B.L", "lid.B.L.001", "lid.B.L.002",
    "lid.T.R", "lid.T.R.001", "lid.T.R.002", "lid.T.R.003", "lid.B.R", "lid.B.R.001", "lid.B.R.002",
    "DEF-lid.T.L", "DEF-lid.T.L.001", "ORG-lid.T.L", "brow.T.L", "brow.T.L.001", "brow.T.L.002",
    "brow.T.L.003", "brow.T.R", "brow.T.R.001", "brow.T.R.002", "brow.T.R.003", "DEF-brow.T.L",
    "lips.L", "lips.R", "chin", "teeth.T", "teeth.B", "tongue_master", "nose_master",
]


@pytest.fixture(scope="module")
def fbhead_shape_keys(interop):
    """Shape-key names of FBHead in the real Live Link Face .blend, read with bpy."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(interop / "Live_Link_Face.blend"))
    keys = [k.name for k in bpy.data.objects["FBHead"].data.shape_keys.key_blocks]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return keys


def test_live_link_head_maps_all_51_shape_keys(fbhead_shape_keys):
    assert len(fbhead_shape_keys) == 52 and fbhead_shape_keys[0] == "Basis"
    table, report = auto_detect(fbhead_shape_keys, mesh="FBHead")
    print("FBHead:", "; ".join(report.messages()))
    assert len(report.shape_keys) == 51 and not report.unmapped_shape_keys
    assert report.channels_without_shape_key == ["tongueOut"]
    targets = {t.name for t in table.targets}
    assert targets == set(fbhead_shape_keys[1:])
    assert all(t.kind == "shape_key" and t.owner == "FBHead" for t in table.targets)
    # every key is driven by the ARKit channel of the same meaning
    for row in table.rows:
        assert row.source.lower() == row.target.name.lower()


def test_table_drives_shape_keys_from_real_channels(mediapipe_dumps, solver, canonical, fbhead_shape_keys):
    dump = mediapipe_dumps["pexels"]
    pose = solver.solve(dump["landmarks"], (int(dump["width"]), int(dump["height"])))
    values = ch.compute_channels(pose, dump["blendshapes"], canonical)
    table, _ = auto_detect(fbhead_shape_keys)
    out = table.evaluate(values)
    blink = out[Target("shape_key", "EyeBlinkLeft")]
    np.testing.assert_allclose(blink, np.clip(values[:, ch.CHANNEL_INDEX["eyeBlinkLeft"]], 0, 1))
    assert blink.max() > 0.5  # she closes her eyes
    # one frame gives the row of the take
    frame = table.evaluate_frame(values[100])
    assert frame[Target("shape_key", "JawOpen")] == pytest.approx(out[Target("shape_key", "JawOpen")][100])


def test_rows_scale_offset_clamp_and_add_up():
    yaw = Target("bone_rotation", "head", 2)
    table = MappingTable([
        MappingRow("jawOpen", Target("shape_key", "A"), factor=2.0, offset=-0.5, min=0.0, max=1.0),
        MappingRow("headYaw", yaw, factor=0.5),
        MappingRow("eyeLeftYaw", yaw, factor=1.0, min=-0.1, max=0.1),
    ])
    values = np.zeros((4, ch.N_CHANNELS))
    values[:, ch.CHANNEL_INDEX["jawOpen"]] = [0.0, 0.5, 0.6, 1.0]
    values[:, ch.CHANNEL_INDEX["headYaw"]] = [0.2, 0.4, -0.2, 0.0]
    values[:, ch.CHANNEL_INDEX["eyeLeftYaw"]] = [0.05, 0.5, -0.5, np.nan]
    out = table.evaluate(values)
    np.testing.assert_allclose(out[Target("shape_key", "A")], [0.0, 0.5, 0.7, 1.0])
    np.testing.assert_allclose(out[yaw], [0.15, 0.3, -0.2, np.nan])
    # "no value" in one source leaves other targets alone
    assert np.isfinite(out[Target("shape_key", "A")]).all()


def test_custom_property_and_owner_targets(tmp_path):
    prop = Target("property", '["mouth_open"]', owner="Character")
    table = MappingTable([MappingRow("jawOpen", prop, factor=10.0, max=8.0)])
    values = np.zeros((2, ch.N_CHANNELS))
    values[:, ch.CHANNEL_INDEX["jawOpen"]] = [0.5, 0.9]
    np.testing.assert_allclose(table.evaluate(values)[prop], [5.0, 8.0])
    assert prop.label == 'property:Character/["mouth_open"]'
    table.save(tmp_path / "t.json")
    assert MappingTable.load(tmp_path / "t.json").rows[0].target == prop


def test_table_json_round_trip(tmp_path, fbhead_shape_keys):
    table, _ = auto_detect(fbhead_shape_keys, RIGIFY_BONES)
    path = tmp_path / "table.json"
    table.save(path)
    back = MappingTable.load(path)
    assert [r.to_dict() for r in back.rows] == [r.to_dict() for r in table.rows]
    values = np.random.default_rng(1).uniform(-1, 1, (20, ch.N_CHANNELS))
    t1, a = table.evaluate_array(values)
    t2, b = back.evaluate_array(values)
    assert t1 == t2
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("row, match", [
    ({"source": "nope", "kind": "shape_key", "target": "A"}, "unknown source channel"),
    ({"source": "jawOpen", "kind": "mesh", "target": "A"}, "unknown target kind"),
    ({"source": "jawOpen", "kind": "bone_rotation", "target": "jaw"}, "axis"),
    ({"source": "jawOpen", "kind": "shape_key", "target": "A", "min": 1, "max": 0}, "min"),
    ({"source": "jawOpen", "kind": "shape_key"}, "malformed"),
])
def test_bad_rows_are_clear_errors(row, match):
    with pytest.raises(RetargetError, match=match):
        MappingTable.from_dict({"format": "face_mocap.mapping_table", "version": 1, "rows": [row]})


def test_not_a_table_is_a_clear_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2")
    with pytest.raises(RetargetError, match="not valid JSON"):
        MappingTable.load(path)
    with pytest.raises(RetargetError, match="not a Face Mocap mapping table"):
        MappingTable.from_dict({"rows": []})


def test_rigify_rig_is_detected_with_its_controls():
    assert is_rigify(RIGIFY_BONES)
    table, report = auto_detect([], RIGIFY_BONES, armature="rig")
    print("Rigify:", "; ".join(report.messages()))
    assert report.rig == "rigify" and not report.missing_bones
    bones = {t.name for t in table.targets}
    assert {"head", "neck", "jaw_master", "eye.L", "eye.R", "lid.T.L.002", "brow.T.R.001", "lips.L"} <= bones
    assert not any(b.startswith(("DEF-", "ORG-", "MCH-")) for b in bones)
    # Rigify's head control does not inherit the neck's rotation (Head Follow 0): it gets the
    # whole head rotation, and the neck bends along by 40%
    yaw_rows = {r.target.name: r.factor for r in table.rows if r.source == "headRotationZ"}
    assert yaw_rows == {"neck": pytest.approx(0.4), "head": pytest.approx(1.0)}


def test_rigify_without_face_bones_reports_what_is_missing():
    bones = [b for b in RIGIFY_BONES if not b.startswith(("lid", "brow", "lips"))]
    _, report = auto_detect([], bones)
    assert report.rig == "rigify"
    assert "lid.T.L.002" in report.missing_bones and "lips.R" in report.missing_bones
    assert "head" not in report.missing_bones


def test_generic_armature_without_neck_turns_the_head_fully():
    bones = ["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Head", "mixamorig:LeftEye",
             "mixamorig:RightEye", "mixamorig:HeadTop_End"]
    table, report = auto_detect([], bones)
    assert report.rig == "generic_armature"
    assert report.bones["@head"] == "mixamorig:Head" and report.bones["@eye.L"] == "mixamorig:LeftEye"
    assert set(report.missing_bones) == {"@neck", "@jaw"}
    yaw = [r for r in table.rows if r.source == "headRotationZ"]
    assert len(yaw) == 1 and abs(yaw[0].factor) == pytest.approx(1.0)


def test_control_bones_win_over_deform_copies():
    table, report = auto_detect([], ["DEF-head", "head", "ORG-neck", "DEF-jaw"])
    assert report.bones["@head"] == "head"
    assert report.bones["@jaw"] == "DEF-jaw"  # only a deform jaw: use it
    assert "@neck" in report.missing_bones  # ORG/MCH bones are never driven


def test_bone_rest_orientation_turns_armature_axes_into_local_axes_exactly():
    up = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # bone pointing up, roll 0
    assert local_components("Z", up) == [(1, 1.0)]  # turning about the vertical = twisting the bone
    assert local_components("Y", up) == [(2, -1.0)]
    # an eye bone pointing up (as in many game rigs): yaw goes to its local Y
    table, _ = auto_detect([], ["Head", "LeftEye", "RightEye"], bone_rest={"LeftEye": up})
    yaw = [r for r in table.rows if r.source == "eyeLeftRotationZ"]
    assert [(r.target.axis, r.factor) for r in yaw] == [(1, 1.0)]
    # a head rolled 30 degrees about its own axis: yaw stays on the bone axis, pitch is shared
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    rolled = up @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    table, _ = auto_detect([], ["Head"], bone_rest={"Head": rolled})
    pitch = {r.target.axis: r.factor for r in table.rows if r.source == "headRotationX"}
    assert pitch == {0: pytest.approx(c), 2: pytest.approx(s)}


def test_a_split_rotation_row_keeps_its_clamp_on_every_local_axis():
    tilted = np.array([[1.0, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])
    preset = {"name": "t", "rows": [{"source": "jawAngle", "kind": "bone_rotation", "target": "jaw", "axis": "Y",
                                      "factor": 2.0, "min": 0.0, "max": 0.5}]}
    table, _ = auto_detect_with(preset, ["jaw"], {"jaw": tilted})
    values = np.zeros((3, ch.N_CHANNELS))
    values[:, ch.CHANNEL_INDEX["jawAngle"]] = [-1.0, 0.1, 1.0]
    out = table.evaluate(values)
    got = np.stack([out[t] for t in table.targets], axis=1)
    np.testing.assert_allclose(got, np.outer(np.clip(2.0 * values[:, ch.CHANNEL_INDEX["jawAngle"]], 0, 0.5),
                                             [0.8, -0.6]), atol=1e-12)


def auto_detect_with(preset: dict, bones: list[str], rest: dict):
    from face_mocap.mapping.autodetect import bone_table

    rows, report = bone_table(bones, rest, preset)
    return MappingTable(rows), report


def test_shipped_presets_load_and_cover_channels():
    assert {"arkit_shape_keys", "rigify", "generic_armature"} <= set(preset_names())
    arkit = load_preset("arkit_shape_keys")
    assert {r["source"] for r in arkit["rows"]} == set(ch.ARKIT_NAMES)
    for name in preset_names():
        for row in load_preset(name)["rows"]:
            assert row["source"] in SOURCE_INDEX
    with pytest.raises(RetargetError, match="no preset"):
        load_preset("nope")


def test_character_creator_split_keys_share_one_channel():
    keys = ["Basis", "Brow_Raise_Inner_L", "Brow_Raise_Inner_R", "Eye_Blink_L", "Eye_L_Look_R", "Custom_Thing"]
    table, report = preset_table("arkit_shape_keys", keys)
    inner = [r.target.name for r in table.rows if r.source == "browInnerUp"]
    assert inner == ["Brow_Raise_Inner_L", "Brow_Raise_Inner_R"]
    assert report.unmapped_shape_keys == ["Custom_Thing"]
    assert report.shape_keys["Eye_L_Look_R"] == "eyeLookInLeft"
    assert math.isclose(table.rows[0].max, 1.0)


def test_bone_only_rigs_get_lids_and_a_jaw_from_jaw_open():
    """Issue 10, item 3: lid bones are found, the jaw opens from jawOpen when a take has no
    jawAngle (no landmarks), and what is missing is said in words, never as '@jaw'."""
    from face_mocap.mapping.naming import bone_role, describe_bone
    from face_mocap.mapping.retarget import JAW_RADIANS_PER_OPEN

    assert bone_role("eyeLid.L") == ("lid", "left") and bone_role("upperLid_R") == ("lid", "right")
    assert bone_role("LeftEyelid") == ("lid", "left") and bone_role("lowerLid.L") == ("lowerlid", "left")
    assert describe_bone("@jaw") == "a jaw bone" and describe_bone("@lid.R") == "a right upper eyelid bone"
    table, report = auto_detect([], ["neck", "head", "jaw", "eye.L", "eye.R", "eyeLid.L", "eyeLid.R"])
    assert report.bones["@lid.L"] == "eyeLid.L" and not report.missing_bones
    values = np.zeros((2, ch.N_CHANNELS))
    values[:, ch.CHANNEL_INDEX["jawOpen"]] = 0.5
    values[:, ch.CHANNEL_INDEX["eyeBlinkLeft"]] = 1.0
    values[0, ch.CHANNEL_INDEX["jawAngle"]] = 0.3  # from landmarks
    values[1, ch.CHANNEL_INDEX["jawAngle"]] = np.nan  # a Live Link take: none
    out = table.evaluate(values)
    jaw = sum(np.abs(v) for t, v in out.items() if t.name == "jaw")
    np.testing.assert_allclose(jaw, [0.3, 0.5 * JAW_RADIANS_PER_OPEN])
    lid = sum(np.abs(v) for t, v in out.items() if t.name == "eyeLid.L")
    assert np.all(lid > 0.5)
    _, report = auto_detect([], ["Head", "Spine"])
    assert not any("@" in line for line in report.messages())
    assert "not found: a neck bone, a jaw bone, a left eye bone, a right eye bone" in report.messages()
