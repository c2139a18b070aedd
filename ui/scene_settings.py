"""What the scene and the preferences say the mapping should use: the canonical face of the
capture model, the smoothing (a preset or custom One Euro parameters) and the calibration."""

from __future__ import annotations

import bpy

from ..capture.errors import ModelError
from ..link.errors import SessionError, with_hint
from ..mapping.calibration import Calibration
from ..mapping.canonical import load_canonical_face
from ..mapping.smoothing import OneEuro, SmoothingSettings, preset
from . import preferences


def canonical_face(context: bpy.types.Context | None = None):
    """The canonical face read from the model the capture process uses (cached by path)."""
    try:
        path = preferences.model_file(context)
    except ModelError as exc:
        raise SessionError(with_hint(str(exc), "model", "")) from None
    return load_canonical_face(path)


def smoothing_settings(scene: bpy.types.Scene) -> SmoothingSettings:
    """The scene's smoothing preset, or its custom One Euro parameters per channel kind."""
    settings = scene.face_mocap
    if settings.smoothing != "custom":
        return preset(settings.smoothing)
    result = preset("medium")
    for kind in ("shape", "rotation", "location"):
        one_euro = OneEuro(getattr(settings, f"{kind}_min_cutoff"), getattr(settings, f"{kind}_beta"),
                           settings.d_cutoff)
        result = result.with_kind(kind, one_euro, result.offline_hz.get(kind))
    return result


def scene_calibration(scene: bpy.types.Scene) -> Calibration | None:
    """The scene's calibration, or None when there is none."""
    text = scene.face_mocap.calibration
    return Calibration.from_json(text) if text else None


def smoothing_key(scene: bpy.types.Scene) -> tuple:
    s = scene.face_mocap
    return (s.smoothing, s.shape_min_cutoff, s.shape_beta, s.rotation_min_cutoff, s.rotation_beta,
            s.location_min_cutoff, s.location_beta, s.d_cutoff)
