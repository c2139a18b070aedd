"""Presets and auto-detection: build a MappingTable from a rig's shape-key and bone names.

Preset files (mapping/presets/*.json, or a user's own file) are templates:
- shape-key rows name an ARKit shape; they bind to every shape key whose name
  normalises to it (naming.arkit_name), so one preset serves all naming conventions;
- bone rows name a bone (Rigify) or a role ("@head", "@neck", "@jaw", "@eye.L", "@eye.R")
  and give the axis in ARMATURE space (X = character's left, Y = back, Z = up). The axis
  is expressed exactly in the bone's rest frame when the rest orientation is given
  (`bone_rest`: name -> 3x3 armature-space matrix, e.g. bone.matrix_local.to_3x3()): a
  row on a rolled or tilted bone becomes up to three rows, one per local axis. Otherwise
  the preset's assumed orientation ("orient": "up" or "forward") is used.
- rows sharing a "split" group (head/neck) share the motion: factors are rescaled over
  the bones that exist, so a rig without a neck bone still turns its head fully. With the
  rotation-vector sources (headRotationX/Y/Z) a factor is a slerp fraction, so a neck at 0.4
  and its child head at 0.6 turn the head by exactly the tracked rotation.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable

import numpy as np

from .channels import ARKIT_NAMES
from .errors import RetargetError
from .naming import arkit_name, bone_role, strip_rig_prefix
from .reading import clip, number, read_json_file
from .retarget import AXES, SOURCE_INDEX, TARGET_KINDS, DetectionReport, MappingRow, MappingTable

PRESET_DIR = Path(__file__).resolve().parent / "presets"
PRESET_FORMAT = "face_mocap.preset"
# Rest orientation (columns = local X, Y, Z in armature space) of a bone with roll 0
_ORIENT = {
    "up": np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]),  # points +Z, like a head or neck
    # points forward and a little down (-Y, -Z), like a jaw or an eye; Blender gives a bone
    # pointing exactly along -Y a flipped X instead, so pass rest matrices for those
    "forward": np.diag([1.0, -1.0, -1.0]),
}
_RIGIFY_MARKERS = ("jaw_master", "eyes", "eye_common", "lid.T.L", "brow.T.L.001", "ORG-face")


def preset_names() -> list[str]:
    """Names of the presets shipped with the add-on."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def load_preset(name_or_path: str | os.PathLike) -> dict:
    """A shipped preset by name, or a preset file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{name_or_path}.json"
    if not path.exists():
        raise RetargetError(f"no preset '{name_or_path}' (shipped: {', '.join(preset_names())})")
    data = read_json_file(path, "preset", RetargetError)
    if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT or not isinstance(data.get("rows"), list):
        raise RetargetError(f"'{path.name}' is not a Face Mocap preset")
    for index, spec in enumerate(data["rows"]):
        problem = _row_problem(spec)
        if problem:
            raise RetargetError(f"preset '{path.name}', row {index + 1}: {problem}")
    return data


def _row_problem(spec: object) -> str:
    """Why a preset row cannot be used ('' when it can): checked at load, not mid-detection."""
    if not isinstance(spec, dict):
        return f"not an object but {clip(repr(spec))}"
    if spec.get("source") not in SOURCE_INDEX:
        return f"unknown source channel {clip(repr(spec.get('source')))}"
    kind = spec.get("kind")
    if kind not in TARGET_KINDS:
        return f"unknown kind {clip(repr(kind))}"
    if kind.startswith("bone_"):
        if not isinstance(spec.get("target"), str) or not spec["target"]:
            return "a bone row needs a target bone name"
        if not isinstance(spec.get("axis"), str) or spec["axis"].upper() not in AXES:
            return "a bone row needs an axis X, Y or Z"
        if spec.get("orient", "up") not in _ORIENT:
            return f"orient must be one of {', '.join(_ORIENT)}"
    if "split" in spec and not isinstance(spec["split"], str):
        return "split must be a group name"
    if not isinstance(spec.get("optional", False), bool):
        return "optional must be true or false"
    try:
        for key in ("factor", "offset", "min", "max"):
            number(spec.get(key), key, RetargetError, allow_none=True)
    except RetargetError as exc:
        return str(exc)
    return ""


def local_components(axis: str, rest: np.ndarray) -> list[tuple[int, float]]:
    """An armature-space axis in a bone's rest frame: [(local axis, weight)], exactly.

    A rotation vector or a location along armature axis a is sum_k rest[a, k] along local
    axis k (rest^T v), so a row on a tilted or rolled bone becomes up to three rows."""
    row = np.asarray(rest, np.float64)[AXES.index(axis.upper())]
    row = row / (np.linalg.norm(row) or 1.0)  # rest matrices of scaled bones are not unit
    return [(k, float(row[k])) for k in range(3) if abs(row[k]) > 1e-4]


def _rows(spec: dict, name: str, bone_rest: dict, factor_scale: float = 1.0, owner: str = "") -> list[MappingRow]:
    kind = spec["kind"]
    factor = float(spec.get("factor", 1.0)) * factor_scale
    offset, lo, hi = float(spec.get("offset", 0.0)), spec.get("min"), spec.get("max")
    parts = [(-1, 1.0)]
    if kind.startswith("bone_"):
        rest = bone_rest.get(name)
        parts = local_components(spec["axis"], _ORIENT[spec.get("orient", "up")] if rest is None else rest)
    rows = []
    for axis, weight in parts:
        # clamp(x f + o, lo, hi) * w == clamp(x f w + o w, lo w, hi w), bounds swapped when w < 0
        bounds = [None if b is None else float(b) * weight for b in (lo, hi)]
        low, high = bounds if weight > 0 else bounds[::-1]
        rows.append(MappingRow.from_dict({"source": spec["source"], "kind": kind, "target": name,
                                          "axis": AXES[axis] if axis >= 0 else None, "owner": owner,
                                          "factor": factor * weight, "offset": offset * weight,
                                          "min": low, "max": high}))
    return rows


def shape_key_table(shape_keys: Iterable[str], preset: dict | str = "arkit_shape_keys",
                    owner: str = "") -> tuple[list[MappingRow], DetectionReport]:
    """Rows binding ARKit channels to the shape keys that exist, with a report."""
    preset = load_preset(preset) if isinstance(preset, (str, os.PathLike)) else preset
    report = DetectionReport()
    by_channel: dict[str, list[str]] = {}
    for key in shape_keys:
        channel = arkit_name(key)
        if channel is None:
            if key.lower() not in ("basis", "basis shape", "reference"):
                report.unmapped_shape_keys.append(key)
            continue
        report.shape_keys[key] = channel
        by_channel.setdefault(channel, []).append(key)
    rows = []
    for spec in preset["rows"]:
        if spec.get("kind") != "shape_key":
            continue
        for key in by_channel.get(spec["source"], []):
            rows.extend(_rows(spec, key, {}, owner=owner))
    report.channels_without_shape_key = [n for n in ARKIT_NAMES if n not in by_channel]
    return rows, report


def _pick_bones(bones: list[str]) -> dict[str, str]:
    """Role ('head', 'neck', 'jaw', 'eye.L', 'eye.R') -> bone; controls before DEF-, never ORG/MCH."""
    found: dict[str, tuple[int, str]] = {}
    for bone in bones:
        prefix, _ = strip_rig_prefix(bone)
        if prefix in ("ORG", "MCH"):
            continue
        role = bone_role(bone)
        if role is None:
            continue
        key = role[0] if role[1] is None else f"{role[0]}.{role[1][0].upper()}"
        rank = 1 if prefix == "DEF" else 0
        if key not in found or rank < found[key][0]:
            found[key] = (rank, bone)
    return {key: bone for key, (_, bone) in found.items()}


def is_rigify(bones: Iterable[str]) -> bool:
    """True for a generated Rigify rig with a face (or its metarig-derived bone names)."""
    names = set(bones)
    return "head" in names and any(m in names for m in _RIGIFY_MARKERS)


def bone_table(bones: Iterable[str], bone_rest: dict | None = None, preset: dict | str | None = None,
               owner: str = "") -> tuple[list[MappingRow], DetectionReport]:
    """Rows for head/neck/jaw/eyes (and Rigify lids, brows, lips) on the bones that exist."""
    bones = list(bones)
    bone_rest = bone_rest or {}
    report = DetectionReport()
    if not bones:
        return [], report
    if preset is None:
        preset = "rigify" if is_rigify(bones) else "generic_armature"
    preset = load_preset(preset) if isinstance(preset, (str, os.PathLike)) else preset
    roles = _pick_bones(bones)
    names = set(bones)
    resolved: list[tuple[dict, str]] = []
    for spec in preset["rows"]:
        if not spec.get("kind", "").startswith("bone_"):
            continue
        wanted = spec["target"]
        bone = roles.get(wanted[1:]) if wanted.startswith("@") else (wanted if wanted in names else None)
        if bone is None:  # optional rows (eyelids) are only used when the rig has the bone
            if wanted not in report.missing_bones and not spec.get("optional"):
                report.missing_bones.append(wanted)
            continue
        report.bones[wanted] = bone
        resolved.append((spec, bone))
    # share split groups (head/neck) over the bones that exist
    totals: dict[tuple[str, str], float] = {}
    for spec, _ in resolved:
        if spec.get("split"):
            key = (spec["split"], spec["source"])
            totals[key] = totals.get(key, 0.0) + abs(float(spec.get("factor", 1.0)))
    rows = []
    for spec, bone in resolved:
        scale = 1.0 / totals[(spec["split"], spec["source"])] if spec.get("split") else 1.0
        rows.extend(_rows(spec, bone, bone_rest, scale, owner))
    if resolved:
        report.rig = str(preset.get("name", "generic"))
    return rows, report


def auto_detect(shape_keys: Iterable[str] = (), bones: Iterable[str] = (),
                bone_rest: dict | None = None, mesh: str = "", armature: str = ""
                ) -> tuple[MappingTable, DetectionReport]:
    """Build a mapping table from plain name lists; the report says what was not mapped."""
    shape_rows, report = shape_key_table(shape_keys, owner=mesh)
    bone_rows, bone_report = bone_table(bones, bone_rest, owner=armature)
    report.rig, report.bones, report.missing_bones = bone_report.rig, bone_report.bones, bone_report.missing_bones
    return MappingTable(shape_rows + bone_rows), report


def preset_table(name_or_path: str | os.PathLike, shape_keys: Iterable[str] = (),
                 bones: Iterable[str] = (), bone_rest: dict | None = None) -> tuple[MappingTable, DetectionReport]:
    """Apply one chosen preset (instead of guessing which) to a rig's names."""
    preset = load_preset(name_or_path)
    shape_rows, report = shape_key_table(shape_keys, preset)
    bone_rows, bone_report = bone_table(bones, bone_rest, preset)
    report.rig, report.bones, report.missing_bones = bone_report.rig, bone_report.bones, bone_report.missing_bones
    return MappingTable(shape_rows + bone_rows), report



def shared_shape_rows(rows: Iterable[MappingRow], mesh: str, others: dict[str, Iterable[str]]) -> list[MappingRow]:
    """The shape-key rows of `mesh`, repeated for each other mesh of the character that has
    the same ARKit shape (by name, or by the normalised name: jawOpen on the head drives
    JawOpen on the teeth). others: mesh name -> its shape-key names."""
    rows = [row for row in rows if row.target.kind == "shape_key" and row.target.owner == mesh]
    shared = []
    for other, keys in others.items():
        by_name = {key: key for key in keys}
        by_channel = {arkit_name(key): key for key in keys if arkit_name(key)}
        for row in rows:
            key = by_name.get(row.target.name) or by_channel.get(arkit_name(row.target.name))
            if key is not None:
                shared.append(replace(row, target=replace(row.target, name=key, owner=other)))
    return shared
