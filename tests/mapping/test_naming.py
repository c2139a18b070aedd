"""Shape-key and bone name normalisation (pure strings)."""

import pytest

from face_mocap.mapping.channels import ARKIT_NAMES
from face_mocap.mapping.naming import arkit_name, bone_role, mirror_name, split_words, strip_rig_prefix


@pytest.mark.parametrize("spelling", ["eyeBlinkLeft", "EyeBlinkLeft", "eyeBlink_L", "eye_blink_left",
                                      "Eye_Blink_L", "eyeblinkleft", "EYE_BLINK_LEFT", "eye.blink.L",
                                      "A14_Eye_Blink_Left", "EyeClosedLeft", "CTRL_expressions_eyeBlinkL"])
def test_blink_left_in_every_convention(spelling):
    assert arkit_name(spelling) == "eyeBlinkLeft"


@pytest.mark.parametrize("name", ARKIT_NAMES)
def test_every_arkit_name_in_four_spellings(name):
    words = split_words(name)
    pascal = name[0].upper() + name[1:]
    snake = "_".join(words)
    suffixed = name
    for side, short in (("Left", "_L"), ("Right", "_R")):
        if name.endswith(side) and name[:-len(side)] + side.lower() not in ("jawleft", "jawright", "mouthleft", "mouthright"):
            suffixed = name[:-len(side)] + short
    for spelling in (name, pascal, snake, suffixed):
        assert arkit_name(spelling) == name, spelling


@pytest.mark.parametrize("cc_name, arkit", [
    ("A01_Brow_Inner_Up", "browInnerUp"), ("A10_Eye_Look_Out_Left", "eyeLookOutLeft"),
    ("A25_Jaw_Open", "jawOpen"), ("A38_Mouth_Smile_Left", "mouthSmileLeft"),
    ("Eye_L_Look_R", "eyeLookInLeft"), ("Eye_L_Look_L", "eyeLookOutLeft"),
    ("Eye_R_Look_L", "eyeLookInRight"), ("Eye_R_Look_Up", "eyeLookUpRight"),
    ("Brow_Raise_Inner_L", "browInnerUp"), ("Brow_Drop_R", "browDownRight"),
    ("Cheek_Raise_L", "cheekSquintLeft"), ("Cheek_Puff_R", "cheekPuff"), ("Jaw_L", "jawLeft"),
    ("Mouth_R", "mouthRight"), ("Mouth_Up_Upper_L", "mouthUpperUpLeft"),
    ("Mouth_Down_Lower_R", "mouthLowerDownRight"), ("Mouth_Roll_In_Upper", "mouthRollUpper"),
    ("Eye_Widen_L", "eyeWideLeft"), ("Jaw_Fwd", "jawForward"), ("Mouth_Corner_Pull_L", "mouthSmileLeft"),
    ("LipSuckLower", "mouthRollLower"), ("MouthClosed", "mouthClose"), ("TongueOut", "tongueOut"),
])
def test_character_creator_and_other_tools(cc_name, arkit):
    assert arkit_name(cc_name) == arkit


@pytest.mark.parametrize("name", ["Basis", "mouthSmile", "viseme_aa", "Key 1", "", "eye", "L"])
def test_non_arkit_names_are_not_guessed(name):
    assert arkit_name(name) is None


@pytest.mark.parametrize("bone, role", [
    ("head", ("head", None)), ("Head", ("head", None)), ("mixamorig:Head", ("head", None)),
    ("DEF-head", ("head", None)), ("CC_Base_Head", ("head", None)), ("neck", ("neck", None)),
    ("neck_01", ("neck", None)), ("Neck1", ("neck", None)), ("jaw", ("jaw", None)),
    ("CC_Base_JawRoot", ("jaw", None)), ("eye.L", ("eye", "left")), ("eye.R", ("eye", "right")),
    ("LeftEye", ("eye", "left")), ("mixamorig:RightEye", ("eye", "right")), ("eye_l", ("eye", "left")),
    ("CC_Base_R_Eye", ("eye", "right")), ("spine.006", None), ("jaw_master", None), ("eye", None),
    ("eye_master.L", None), ("headTop_End", None),
])
def test_bone_roles(bone, role):
    assert bone_role(bone) == role


def test_rigify_prefixes():
    assert strip_rig_prefix("DEF-lid.T.L.001") == ("DEF", "lid.T.L.001")
    assert strip_rig_prefix("MCH-eyes_parent") == ("MCH", "eyes_parent")
    assert strip_rig_prefix("ORG-eye.L") == ("ORG", "eye.L")
    assert strip_rig_prefix("head") == ("", "head")


@pytest.mark.parametrize("a, b", [("eye.L", "eye.R"), ("lid.T.L.001", "lid.T.R.001"),
                                  ("EyeBlinkLeft", "EyeBlinkRight"), ("eyeBlink_L", "eyeBlink_R"),
                                  ("mixamorig:LeftEye", "mixamorig:RightEye"), ("head", "head")])
def test_mirror(a, b):
    assert mirror_name(a) == b and mirror_name(b) == a
