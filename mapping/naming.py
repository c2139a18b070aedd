"""Name parsing for shape keys and bones: ARKit name normalisation, sides, rig prefixes.

Pure string functions (no bpy), in the spirit of Rigify's utils/naming.py.
Shape keys: eyeBlinkLeft, EyeBlinkLeft, eyeBlink_L, eye_blink_left, Eye_Blink_L,
A14_Eye_Blink_Left (Character Creator "Traditional"), Eye_L_Look_R (Character Creator 4)
and the VRCFaceTracking aliases all resolve to the ARKit name.
"""

from __future__ import annotations

import re

from .channels import ARKIT_NAMES

_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}
_ARKIT_BY_KEY = {name.lower(): name for name in ARKIT_NAMES}
# Other tools' stems (lowercase, side removed) -> ARKit stems (reference §B.3)
_STEM_ALIASES = {
    "eyeclosed": "eyeblink", "browdrop": "browdown", "browraiseouter": "browouterup",
    "browraiseinner": "browinnerup", "cheekraise": "cheeksquint", "eyewiden": "eyewide",
    "mouthupupper": "mouthupperup", "mouthdownlower": "mouthlowerdown",
    "mouthrollinupper": "mouthrollupper", "mouthrollinlower": "mouthrolllower",
    "lipsuckupper": "mouthrollupper", "lipsucklower": "mouthrolllower",
    "lipfunnel": "mouthfunnel", "lippucker": "mouthpucker", "mouthclosed": "mouthclose",
    "mouthraiserupper": "mouthshrugupper", "mouthraiserlower": "mouthshruglower",
    "jawfwd": "jawforward", "mouthcornerpull": "mouthsmile", "mouthcornerdepress": "mouthfrown",
    "nosewrinkle": "nosesneer", "nosewrinkleupper": "nosesneer", "eyesquintinner": "eyesquint",
}
# Shapes a tool splits into a left and a right key: both drive the one ARKit shape
_UNSIDED = {"browinnerup", "cheekpuff", "mouthfunnel", "mouthpucker", "mouthrollupper",
            "mouthrolllower", "mouthshrugupper", "mouthshruglower", "mouthclose", "jawopen",
            "jawforward", "tongueout"}
_CC_PREFIX = re.compile(r"^A\d\d_")  # Character Creator "Traditional": A01_Brow_Inner_Up
_RIG_PREFIXES = ("DEF-", "ORG-", "MCH-")
_BONE_ALIASES = {"jawroot": "jaw", "jawbone": "jaw", "lowerjaw": "jaw", "eyeball": "eye",
                 # eyelids: upper ("lid") and lower; lid.T / lid.B as Rigify's metarig names them
                 "eyelid": "lid", "upperlid": "lid", "uppereyelid": "lid", "eyelidupper": "lid", "lidupper": "lid",
                 "lidt": "lid", "lidtop": "lid", "eyelidtop": "lid",
                 "lowerlid": "lowerlid", "lowereyelid": "lowerlid", "eyelidlower": "lowerlid", "lidlower": "lowerlid",
                 "lidb": "lowerlid", "lidbottom": "lowerlid", "eyelidbottom": "lowerlid"}
# What a role stands for, in words for the user ("no jaw bone"), never "@jaw"
_ROLE_WORDS = {"head": "head", "neck": "neck", "jaw": "jaw", "eye": "eye", "lid": "upper eyelid",
               "lowerlid": "lower eyelid"}
_FOREIGN_PREFIXES = re.compile(r"^(mixamorig\d*:|CC_Base_|Bip\d*[ _]|Armature[|:])", re.I)


def split_words(name: str) -> list[str]:
    """Lowercase words of a name: camelCase, PascalCase, snake_case, dots, dashes, spaces."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    return [w.lower() for w in re.split(r"[\s_.\-:|]+", spaced) if w]


def split_side(words: list[str]) -> tuple[list[str], str | None]:
    """Remove the first side word (l, r, left, right) and return it as 'left'/'right'."""
    for i, word in enumerate(words):
        if word in _SIDES:
            return words[:i] + words[i + 1:], _SIDES[word]
    return words, None


def _cc4_eye_look(words: list[str]) -> str | None:
    """Character Creator 4 eye looks: Eye_L_Look_R -> eyeLookInLeft (look toward the nose)."""
    if len(words) != 4 or words[0] != "eye" or words[2] != "look":
        return None
    eye, look = _SIDES.get(words[1]), words[3]
    if eye is None:
        return None
    if look in ("up", "down"):
        return f"eyeLook{look.title()}{eye.title()}"
    if look in _SIDES:
        return f"eyeLook{'Out' if _SIDES[look] == eye else 'In'}{eye.title()}"
    return None


def arkit_name(shape_key: str) -> str | None:
    """The ARKit shape a shape-key name stands for, or None."""
    words = split_words(_CC_PREFIX.sub("", shape_key.strip()))
    if not words:
        return None
    if words[0] == "ctrl" and words[1:2] == ["expressions"]:  # MetaHuman control curves
        words = words[2:]
    cc4 = _cc4_eye_look(words)
    if cc4:
        return cc4
    stem_words, side = split_side(words)
    stem = "".join(stem_words)
    stem = _STEM_ALIASES.get(stem, stem)
    if side and stem + side in _ARKIT_BY_KEY:
        return _ARKIT_BY_KEY[stem + side]
    if stem in _ARKIT_BY_KEY and (side is None or stem in _UNSIDED):
        return _ARKIT_BY_KEY[stem]
    # "A01_Brow_Inner_Up" style keeps words in a different order; try the whole name
    return _ARKIT_BY_KEY.get("".join(words))


def strip_rig_prefix(bone: str) -> tuple[str, str]:
    """Split a Rigify prefix: 'DEF-jaw' -> ('DEF', 'jaw'); 'head' -> ('', 'head')."""
    for prefix in _RIG_PREFIXES:
        if bone.startswith(prefix):
            return prefix[:-1], bone[len(prefix):]
    return "", bone


def bone_role(bone: str) -> tuple[str, str | None] | None:
    """Generic role of a bone name: ('head'|'neck'|'jaw'|'eye'|'lid'|'lowerlid', side) or None."""
    _, base = strip_rig_prefix(bone)
    base = _FOREIGN_PREFIXES.sub("", base)
    words, side = split_side(split_words(base))
    words = [w for w in words if not w.isdigit()]  # neck_01, Neck1 -> neck
    if words and words[-1].rstrip("0123456789") != words[-1]:
        words[-1] = words[-1].rstrip("0123456789")
    key = "".join(words)
    key = _BONE_ALIASES.get(key, key)
    if key in ("head", "neck", "jaw") and side is None:
        return key, None
    if key in ("eye", "lid", "lowerlid") and side is not None:
        return key, side
    return None


def describe_bone(wanted: str) -> str:
    """A preset's bone in words: '@jaw' -> 'a jaw bone', '@eye.L' -> 'a left eye bone',
    'lid.T.L.002' -> "bone 'lid.T.L.002'" (a name the preset looks for on the user's rig)."""
    if not wanted.startswith("@"):
        return f"bone '{wanted}'"
    role, _, side = wanted[1:].partition(".")
    where = {"L": "left ", "R": "right "}.get(side, "")
    return f"a {where}{_ROLE_WORDS.get(role, role)} bone"


def mirror_name(name: str) -> str:
    """The name of the other side: eye.L <-> eye.R, EyeBlinkLeft <-> EyeBlinkRight."""
    swaps = (("Left", "Right"), ("left", "right"), ("LEFT", "RIGHT"))
    for a, b in swaps:
        if a in name or b in name:
            return re.sub(f"{a}|{b}", lambda m: b if m.group(0) == a else a, name)
    return re.sub(r"(?<=[._\- ])([LlRr])(?=$|[._\- ]|\d)",
                  lambda m: {"L": "R", "R": "L", "l": "r", "r": "l"}[m.group(1)], name)
