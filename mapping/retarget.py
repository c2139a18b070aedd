"""Retarget tables: rows `source channel -> target` with factor, offset, min, max.

A target is a shape key (on a mesh), one axis of a pose bone's rotation (bone-local,
radians) or location (bone-local, metres), or a custom property. Rows that share a target
add up. A bone's three rotation axes together are a rotation vector (axis * angle) in the
bone's rest frame, so any rotation reaches a bone exactly and factors scale it exactly
(0.4 of a rotation is the slerp 40% of the way); the rotation-vector sources below give the
tracked head and eyes in that form. Evaluation is vectorised: a whole take (N, channels) -> {target:
(N,)}, or one frame -> {target: float}. NaN in, NaN out ("no value": leave it unkeyed).
Tables are plain JSON (save/load); presets and auto-detection live in presets.py.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .channels import CHANNEL_INDEX, CHANNEL_NAMES, EYE_LEFT, EYE_RIGHT, HEAD_ROTATION
from . import rotations
from .errors import RetargetError
from .naming import describe_bone
from .reading import clip, read_json_file

TARGET_KINDS = ("shape_key", "bone_rotation", "bone_location", "property")
AXES = "XYZ"
TABLE_FORMAT = "face_mocap.mapping_table"
TABLE_VERSION = 1

# Sources computed from the channels: the head's and each eye's rotation as a rotation vector
# (radians, character axes: X = the character's left, Y = back, Z = up). From Euler XYZ
# channel triples; an eye has no roll.
ROTATION_SOURCES = {"headRotation": HEAD_ROTATION,
                    "eyeLeftRotation": (EYE_LEFT[0], None, EYE_LEFT[1]),
                    "eyeRightRotation": (EYE_RIGHT[0], None, EYE_RIGHT[1])}
# jawAngleOrOpen: jawAngle (from landmarks), or in frames without it (a Live Link take has
# only scores) jawOpen times the slope of jawAngle over jawOpen measured on the shared speech
# clips (0.20 rad, correlation 0.85-0.93), so a jaw bone opens from either kind of take.
JAW_RADIANS_PER_OPEN = 0.2
JAW_SOURCE = "jawAngleOrOpen"
SOURCE_NAMES: tuple[str, ...] = (CHANNEL_NAMES + tuple(f"{name}{axis}" for name in ROTATION_SOURCES for axis in AXES)
                                 + (JAW_SOURCE,))
SOURCE_INDEX = {name: i for i, name in enumerate(SOURCE_NAMES)}


def with_computed_sources(values: np.ndarray) -> np.ndarray:
    """(N, channels) -> (N, SOURCE_NAMES): the channels followed by the computed sources."""
    values = np.asarray(values, np.float64)
    blocks = [values]
    for names in ROTATION_SOURCES.values():
        euler = np.stack([values[:, CHANNEL_INDEX[n]] if n else np.zeros(len(values)) for n in names], axis=1)
        blocks.append(rotations.euler_to_rotation_vector(euler))
    angle, opening = values[:, CHANNEL_INDEX["jawAngle"]], values[:, CHANNEL_INDEX["jawOpen"]]
    blocks.append(np.where(np.isfinite(angle), angle, opening * JAW_RADIANS_PER_OPEN)[:, None])
    return np.concatenate(blocks, axis=1)


def _float(value: object) -> float:
    """A finite number from a table file; strings like '0.5' too, as tables have always allowed."""
    if isinstance(value, bool):
        raise TypeError(f"{value} is not a number")
    result = float(value)
    if not math.isfinite(result):  # to_dict() writes an unbounded min/max as null
        raise ValueError(f"{value} is not a finite number")
    return result


@dataclass(frozen=True)
class Target:
    """What a row drives. axis: 0/1/2 for bone kinds, -1 otherwise; owner: object name or ''."""

    kind: str
    name: str
    axis: int = -1
    owner: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise RetargetError(f"unknown target kind '{self.kind}' (one of {', '.join(TARGET_KINDS)})")
        if not self.name:
            raise RetargetError(f"a {self.kind} target needs a name")
        if self.kind.startswith("bone_") != (self.axis in (0, 1, 2)):
            raise RetargetError(f"target '{self.name}': bone targets need an axis X/Y/Z, others none")

    @property
    def label(self) -> str:
        """Readable id, e.g. 'bone_rotation:head.Z' or 'shape_key:EyeBlinkLeft'."""
        axis = f".{AXES[self.axis]}" if self.axis >= 0 else ""
        owner = f"{self.owner}/" if self.owner else ""
        return f"{self.kind}:{owner}{self.name}{axis}"


@dataclass
class MappingRow:
    """target value += clamp(source * factor + offset, min, max)."""

    source: str
    target: Target
    factor: float = 1.0
    offset: float = 0.0
    min: float = -math.inf
    max: float = math.inf

    def to_dict(self) -> dict:
        """JSON-ready dict (infinite bounds become null)."""
        return {"source": self.source, "kind": self.target.kind, "target": self.target.name,
                "axis": AXES[self.target.axis] if self.target.axis >= 0 else None,
                "owner": self.target.owner, "factor": self.factor, "offset": self.offset,
                "min": None if math.isinf(self.min) else self.min,
                "max": None if math.isinf(self.max) else self.max}

    @classmethod
    def from_dict(cls, d: dict) -> "MappingRow":
        """Inverse of to_dict(); raises RetargetError on bad rows."""
        if not isinstance(d, dict):
            raise RetargetError(f"a mapping row must be an object, not {clip(repr(d))}")
        try:
            axis = d.get("axis")
            axis = -1 if axis is None else AXES.index(str(axis).upper())
            target = Target(str(d["kind"]), str(d["target"]), axis, str(d.get("owner", "")))
            lo = -math.inf if d.get("min") is None else _float(d["min"])
            hi = math.inf if d.get("max") is None else _float(d["max"])
            row = cls(str(d["source"]), target, _float(d.get("factor", 1.0)), _float(d.get("offset", 0.0)), lo, hi)
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise RetargetError(f"malformed mapping row {clip(repr(d), 80)}: {clip(str(exc), 80)}") from None
        if lo > hi:
            raise RetargetError(f"row {row.source} -> {target.label}: min {lo} > max {hi}")
        return row


class MappingTable:
    """An ordered list of rows, compiled once for fast evaluation."""

    def __init__(self, rows: list[MappingRow] | None = None) -> None:
        self.rows: list[MappingRow] = list(rows or [])
        self._compiled = None

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: MappingRow) -> None:
        """Append a row."""
        self.rows.append(row)
        self._compiled = None

    def changed(self) -> None:
        """Call after editing rows in place, so the next evaluation recompiles."""
        self._compiled = None

    def check(self) -> None:
        """Raise RetargetError now for a row with an unknown source channel, not mid-capture."""
        self._compile()

    @property
    def targets(self) -> list[Target]:
        """Distinct targets in first-use order."""
        return list(dict.fromkeys(row.target for row in self.rows))

    def _compile(self):
        if self._compiled is None:
            targets = self.targets
            tindex = {t: i for i, t in enumerate(targets)}
            for row in self.rows:
                if row.source not in SOURCE_INDEX:
                    raise RetargetError(f"unknown source channel '{row.source}' (target {row.target.label})")
            order = sorted(range(len(self.rows)), key=lambda r: tindex[self.rows[r].target])
            rows = [self.rows[r] for r in order]
            col = lambda attr: np.array([getattr(r, attr) for r in rows], np.float64)  # noqa: E731
            group = np.array([tindex[r.target] for r in rows], np.int64)
            starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if rows else np.zeros(0, np.int64)
            src = np.array([SOURCE_INDEX[r.source] for r in rows], np.int64)
            derived = bool(len(src)) and int(src.max()) >= len(CHANNEL_NAMES)
            self._compiled = (targets, src, col("factor"), col("offset"), col("min"), col("max"), starts, derived)
        return self._compiled

    def evaluate_array(self, values: np.ndarray) -> tuple[list[Target], np.ndarray]:
        """(targets, (N, T) values) for channels (N, C); the fastest form."""
        targets, src, factor, offset, lo, hi, starts, derived = self._compile()
        values = np.asarray(values, np.float64)
        values = values[None] if values.ndim == 1 else values
        if derived:  # only tables that use them pay for the rotation vectors
            values = with_computed_sources(values)
        if not targets:
            return targets, np.zeros((len(values), 0))
        v = np.clip(values[:, src] * factor + offset, lo, hi)
        return targets, np.add.reduceat(v, starts, axis=1)

    def evaluate(self, values: np.ndarray) -> dict[Target, np.ndarray]:
        """{target: (N,) values} for a take (N, C)."""
        targets, out = self.evaluate_array(values)
        return {t: out[:, i] for i, t in enumerate(targets)}

    def evaluate_frame(self, values: np.ndarray) -> dict[Target, float]:
        """{target: value} for one frame of channels (C,)."""
        targets, out = self.evaluate_array(values)
        return dict(zip(targets, out[0].tolist()))

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"format": TABLE_FORMAT, "version": TABLE_VERSION, "rows": [r.to_dict() for r in self.rows]}

    @classmethod
    def from_dict(cls, data: dict) -> "MappingTable":
        """Inverse of to_dict()."""
        if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
            raise RetargetError("not a Face Mocap mapping table")
        if data.get("version") != TABLE_VERSION:
            raise RetargetError(f"mapping table version {data.get('version')} is not supported")
        rows = data.get("rows", [])
        if not isinstance(rows, list):
            raise RetargetError("a mapping table's 'rows' must be a list")
        table = cls([MappingRow.from_dict(d) for d in rows])
        table.check()
        return table

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MappingTable":
        """Read a JSON table written by save()."""
        data = read_json_file(path, "mapping table", RetargetError)
        try:
            return cls.from_dict(data)
        except RetargetError as exc:
            raise RetargetError(f"{os.path.basename(path)}: {exc}") from None


@dataclass
class DetectionReport:
    """What auto-detection found and what it could not map, for the user."""

    rig: str = "none"  # "rigify", "generic" or "none"
    shape_keys: dict[str, str] = field(default_factory=dict)  # shape key -> ARKit channel
    unmapped_shape_keys: list[str] = field(default_factory=list)
    channels_without_shape_key: list[str] = field(default_factory=list)
    bones: dict[str, str] = field(default_factory=dict)  # role / preset bone -> bone used
    missing_bones: list[str] = field(default_factory=list)

    def messages(self) -> list[str]:
        """Short lines for the UI."""
        lines = [f"{len(self.shape_keys)} shape keys mapped"]
        if self.unmapped_shape_keys:
            lines.append("not mapped: " + ", ".join(self.unmapped_shape_keys))
        if self.shape_keys and self.channels_without_shape_key:
            lines.append("no shape key for: " + ", ".join(self.channels_without_shape_key))
        if self.rig != "none":
            lines.append(f"{self.rig} rig: " + ", ".join(sorted(set(self.bones.values()))))
        if self.missing_bones:
            lines.append("not found: " + ", ".join(describe_bone(b) for b in self.missing_bones))
        return lines
