"""Takes as NLA strips: each bake on its own track, a strip named after the take.

A baked action is marked with the take it came from (TAKE_KEY), so a rig that already holds
a baked take is recognised, whether as its active action or as a strip. When a bake goes to
the NLA and the data-block's active action is a baked take, that take is moved onto its own
track first: the active action would otherwise play over every strip. Strips neither hold
nor extend past their keys (extrapolation Nothing), so each take plays only over its own
frames and takes on one rig can be compared, blended (influence, blend type) and moved.
Works with Blender 4.2's actions and 4.4+/5.x layered actions (a strip's slot is the one
baked for the data-block).
"""

from __future__ import annotations

import bpy

TAKE_KEY = "face_mocap_take"  # custom property of a baked action: the take's name


def mark(action: bpy.types.Action, take_name: str) -> None:
    """Record which take an action was baked from."""
    action[TAKE_KEY] = take_name


def take_of(action: bpy.types.Action | None) -> str | None:
    """The take an action was baked from, or None for any other action."""
    if action is None:
        return None
    name = action.get(TAKE_KEY)
    return name if isinstance(name, str) else None


def take_strips(id_data: bpy.types.ID) -> list[bpy.types.NlaStrip]:
    """The strips of baked takes on a data-block, bottom track first."""
    anim = id_data.animation_data
    if anim is None:
        return []
    return [strip for track in anim.nla_tracks for strip in track.strips if take_of(strip.action) is not None]


def holds_other_take(id_data: bpy.types.ID | None, name: str) -> bool:
    """True when the data-block plays a baked take other than `name` (as its active action or a
    strip): a rig with several takes. Baking the same take again is not a second take."""
    if id_data is None or id_data.animation_data is None:
        return False
    takes = {take_of(strip.action) for strip in take_strips(id_data)} | {take_of(id_data.animation_data.action)}
    return bool(takes - {None, name})


def add_strip(id_data: bpy.types.ID, action: bpy.types.Action, slot, name: str,
              replaced: list[str] | None = None) -> bpy.types.NlaStrip:
    """`action` as a strip where its keys are, on the track of the take's earlier bake (whose
    strip it replaces; that action is kept with a fake user and named in `replaced`), else on
    a new track on top. slot: the action slot baked for this data-block (Blender 4.4+), else None."""
    anim = id_data.animation_data or id_data.animation_data_create()
    first, _last = action.frame_range
    track = _replace_strips(anim, name, replaced if replaced is not None else [])
    try:
        strip = track.strips.new(name, int(first), action)  # whole frames only here; moved below
    except RuntimeError:  # a strip added to the track by hand is in the way
        track = _new_track(anim, name)
        strip = track.strips.new(name, int(first), action)
    strip.frame_start_ui = first  # moves the strip, length kept: it plays action frame f at frame f
    strip.extrapolation = "NOTHING"
    if slot is not None:
        strip.action_slot = slot
    return strip


def _new_track(anim: bpy.types.AnimData, name: str) -> bpy.types.NlaTrack:
    track = anim.nla_tracks.new()
    track.name = name
    return track


def _replace_strips(anim: bpy.types.AnimData, name: str, replaced: list[str]) -> bpy.types.NlaTrack:
    """The track holding the take's earlier strips, emptied of them; a new track if none does."""
    for track in anim.nla_tracks:
        earlier = [strip for strip in track.strips if take_of(strip.action) == name]
        for strip in earlier:
            strip.action.use_fake_user = True
            replaced.append(strip.action.name)
            track.strips.remove(strip)
        if earlier:
            return track
    return _new_track(anim, name)


def stash_active_take(id_data: bpy.types.ID) -> str | None:
    """Move the data-block's active action onto its own track if it is a baked take; its name."""
    anim = id_data.animation_data
    action = anim.action if anim is not None else None
    name = take_of(action)
    if name is None:
        return None
    slot = getattr(anim, "action_slot", None)
    anim.action = None
    add_strip(id_data, action, slot, name)
    return name
