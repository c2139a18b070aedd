"""Blender properties: Scene.face_mocap (saved), Object.face_mocap (per-character mapping), runtime on the window manager."""

from __future__ import annotations

import math

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty,
                       PointerProperty, StringProperty)

from ..mapping.retarget import TARGET_KINDS
from ..mapping.smoothing import preset

SOURCE_ITEMS = [
    ("WEBCAM", "Webcam", "Capture from a camera"),
    ("VIDEO", "Video File", "Capture from a video file"),
]
RESOLUTION_ITEMS = [
    ("DEFAULT", "Camera Default", "Whatever the camera delivers"),
    ("640x480", "640 x 480", ""),
    ("1280x720", "1280 x 720", ""),
    ("1920x1080", "1920 x 1080", ""),
]
SMOOTHING_ITEMS = [
    ("off", "Off", "Raw values, no smoothing"),
    ("light", "Light", "Little smoothing, least lag"),
    ("medium", "Medium", "Balanced jitter and lag"),
    ("strong", "Strong", "Steady, with more lag"),
    ("custom", "Custom", "Set the One Euro parameters yourself"),
]
_TARGET_LABELS = {
    "shape_key": ("Shape Key", "A shape key value on the mesh"),
    "bone_rotation": ("Bone Rotation", "A pose bone's rotation about one axis (radians)"),
    "bone_location": ("Bone Location", "A pose bone's location along one axis"),
    "property": ("Custom Property", "A custom property on the object"),
}
# a row's target_type is its mapping.retarget.Target kind, upper-cased (Blender's enum style)
TARGET_TYPE_ITEMS = [(kind.upper(), *_TARGET_LABELS[kind]) for kind in TARGET_KINDS]
AXIS_ITEMS = [("X", "X", ""), ("Y", "Y", ""), ("Z", "Z", "")]
_MEDIUM = preset("medium").live  # the Custom smoothing parameters start from the Medium preset
# Blender 4.5+ warns about "//" paths unless the property says it supports them.
RELATIVE_PATH = {"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (4, 5, 0) else set()


# A character linked from a library and overridden in a shot keeps editable mapping rows.
_OVERRIDABLE = {"LIBRARY_OVERRIDABLE"}
_OVERRIDABLE_COLLECTION = {"LIBRARY_OVERRIDABLE", "USE_INSERTION"}  # rows can be added on the override


def _is_mesh(_self, obj: bpy.types.Object) -> bool:
    return obj.type == "MESH"


def _is_armature(_self, obj: bpy.types.Object) -> bool:
    return obj.type == "ARMATURE"


class FACEMOCAP_PG_mapping_row(bpy.types.PropertyGroup):
    """One row of a mapping table: source channel -> one target, with factor/offset/clamp."""

    enabled: BoolProperty(name="Enabled", default=True, override=_OVERRIDABLE)
    source: StringProperty(name="Source", description="Channel name, e.g. jawOpen or headYaw",
                           override=_OVERRIDABLE)
    target_type: EnumProperty(name="Type", items=TARGET_TYPE_ITEMS, default="SHAPE_KEY", override=_OVERRIDABLE)
    target: StringProperty(name="Target", description="Shape key, pose bone or custom property name",
                           override=_OVERRIDABLE)
    axis: EnumProperty(name="Axis", items=AXIS_ITEMS, default="X", override=_OVERRIDABLE)
    factor: FloatProperty(name="Factor", default=1.0, override=_OVERRIDABLE)
    offset: FloatProperty(name="Offset", default=0.0, override=_OVERRIDABLE)
    min: FloatProperty(name="Min", default=-math.inf, description="Lowest value written (-inf: no limit)",
                       override=_OVERRIDABLE)
    max: FloatProperty(name="Max", default=math.inf, description="Highest value written (inf: no limit)",
                       override=_OVERRIDABLE)


class FACEMOCAP_PG_character(bpy.types.PropertyGroup):
    """The mapping table of one character object (its shape keys or its bones)."""

    preset: StringProperty(name="Preset", description="The preset this table was built from",
                           override=_OVERRIDABLE)
    rows: CollectionProperty(type=FACEMOCAP_PG_mapping_row, override=_OVERRIDABLE_COLLECTION)
    active_row: IntProperty(name="Active Row", default=0, override=_OVERRIDABLE)


class FACEMOCAP_PG_take(bpy.types.PropertyGroup):
    """A take listed in the .blend: the file holds the raw frames."""

    name: StringProperty(name="Name")
    filepath: StringProperty(name="File", subtype="FILE_PATH", options=RELATIVE_PATH)
    frame_count: IntProperty(name="Frames")
    duration: FloatProperty(name="Length", unit="TIME_ABSOLUTE", subtype="TIME_ABSOLUTE")
    source: StringProperty(name="Source")
    start_timecode: StringProperty(name="Start Timecode", description="Timecode of the take's first frame")
    complete: BoolProperty(name="Complete", default=True)


class FACEMOCAP_PG_scene_character(bpy.types.PropertyGroup):
    """One more character: its objects (their mapping rows), the person it follows, its calibration."""

    name: StringProperty(name="Name")
    mesh: PointerProperty(name="Mesh", type=bpy.types.Object, poll=_is_mesh,
                          description="Mesh whose shape keys this character's person drives")
    armature: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,
                              description="Armature whose bones this character's person drives")
    person: IntProperty(name="Person", min=1, max=8, default=2,
                        description="Which person in view drives this character: 1 the performer (as the targets), "
                                    "2 the next person seen, 3 the one after...")
    calibration: StringProperty(name="Calibration", description="This character's calibration (JSON)")


class FACEMOCAP_PG_settings(bpy.types.PropertyGroup):
    """Scene.face_mocap: capture, targets, smoothing, calibration, takes and bake settings."""

    source_type: EnumProperty(name="Source", items=SOURCE_ITEMS, default="WEBCAM")
    use_default_camera: BoolProperty(name="Default Camera", default=True,
                                     description="Use the camera set in Preferences > Add-ons > Face Mocap")
    camera_index: IntProperty(name="Camera", min=0, max=63, default=0,
                              description="Camera index (0 is the first camera)")
    camera_resolution: EnumProperty(name="Resolution", items=RESOLUTION_ITEMS, default="DEFAULT")
    video_path: StringProperty(name="Video", subtype="FILE_PATH", options=RELATIVE_PATH)
    realtime: BoolProperty(name="Real Time", default=True,
                           description="Play a video file at its own speed (off: as fast as possible)")
    loop_video: BoolProperty(name="Loop", default=False,
                             description="Play the video over and over until Stop Capture (to tune a rig)")
    mirror: BoolProperty(name="Mirror", default=False, description="Flip the image (selfie view)")
    num_faces: IntProperty(name="Faces", min=1, max=8, default=1)
    min_face_detection_confidence: FloatProperty(name="Detection", min=0.0, max=1.0, default=0.5)
    min_face_presence_confidence: FloatProperty(name="Presence", min=0.0, max=1.0, default=0.5)
    min_tracking_confidence: FloatProperty(name="Tracking", min=0.0, max=1.0, default=0.5)

    show_preview: BoolProperty(name="Camera Preview", default=True,
                               description="Show the camera image with the tracked landmarks")
    preview_fps: FloatProperty(name="Preview FPS", min=0.0, max=30.0, default=5.0)

    target_mesh: PointerProperty(name="Mesh", type=bpy.types.Object, poll=_is_mesh,
                                 description="Mesh whose shape keys the face drives")
    target_armature: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature,
                                     description="Armature whose bones the head, jaw and eyes drive")
    target_collection: PointerProperty(name="More Meshes", type=bpy.types.Collection,
                                       description="Meshes of the character besides those of the armature: each "
                                                   "one with ARKit shape keys follows the target mesh's rows")

    smoothing: EnumProperty(name="Smoothing", items=SMOOTHING_ITEMS, default="medium")
    # Custom One Euro parameters per channel kind
    shape_min_cutoff: FloatProperty(name="Shapes Min Cutoff", min=0.001, default=_MEDIUM["shape"].min_cutoff,
                                    description="Hz: lower is smoother while the face is still")
    shape_beta: FloatProperty(name="Shapes Beta", min=0.0, default=_MEDIUM["shape"].beta,
                              description="Higher follows fast moves (blinks) with less lag")
    rotation_min_cutoff: FloatProperty(name="Rotation Min Cutoff", min=0.001, default=_MEDIUM["rotation"].min_cutoff,
                                       description="Hz, for head and eye rotation")
    rotation_beta: FloatProperty(name="Rotation Beta", min=0.0, default=_MEDIUM["rotation"].beta)
    location_min_cutoff: FloatProperty(name="Location Min Cutoff", min=0.001, default=_MEDIUM["location"].min_cutoff,
                                       description="Hz, for head translation")
    location_beta: FloatProperty(name="Location Beta", min=0.0, default=_MEDIUM["location"].beta)
    d_cutoff: FloatProperty(name="Derivative Cutoff", min=0.001, default=_MEDIUM["shape"].d_cutoff,
                            description="Hz: how the speed estimate itself is smoothed")

    calibration: StringProperty(name="Calibration", description="Neutral calibration (JSON)")
    characters: CollectionProperty(type=FACEMOCAP_PG_scene_character)  # beyond the targets: one more person each
    active_character: IntProperty(name="Active Character", default=0)

    takes: CollectionProperty(type=FACEMOCAP_PG_take)
    active_take: IntProperty(name="Active Take", default=0)
    take_name: StringProperty(name="Take Name", default="Take")

    bake_start_frame: IntProperty(name="Start Frame", default=1)
    bake_start: EnumProperty(name="Start At", default="FRAME", items=(
        ("FRAME", "Start Frame", "The take's first key on the Start Frame"),
        ("CURRENT", "Current Frame", "The take's first key on the current frame"),
        ("TIMECODE", "Timecode", "The take where its start timecode falls, the Start Frame Timecode "
                                 "falling on the Start Frame")))
    timecode_origin: StringProperty(
        name="Start Frame Timecode",
        description="Timecode that falls on the Start Frame when takes start at their timecode "
                    "(HH:MM:SS:FF, ';' for drop-frame); empty: the hour of the first take placed")
    bake_takes: EnumProperty(name="Takes", default="AUTO", items=(
        ("AUTO", "Auto", "NLA strips once the rig holds a baked take (several takes on one rig), "
                         "else the active action"),
        ("STRIPS", "NLA Strips", "Each take on its own NLA track, a strip named after it: takes can be "
                                 "compared, blended and moved"),
        ("ACTION", "Active Action", "The take replaces the active action (the previous one is kept)")))
    bake_smoothing: BoolProperty(name="Smooth", default=True,
                                 description="Zero-phase smoothing over the whole take before baking")
    bake_reduce: BoolProperty(name="Reduce Keys", default=False,
                              description="Remove keys that a straight line between neighbours predicts")
    bake_tolerance: FloatProperty(name="Tolerance", min=0.0, default=0.001)
    add_sound: BoolProperty(name="Add Sound", default=True,
                            description="Import Video and Bake put the source video's sound on the Video "
                                        "Sequencer where the take lies (takes recorded from a video file)")
    reference_video: BoolProperty(name="Reference Video", default=False,
                                  description="Import Video and Bake show the source video beside the character "
                                              "(a Reference image object), frame by frame where the take lies")
    retarget_mesh: PointerProperty(name="Mesh", type=bpy.types.Object, poll=_is_mesh)
    retarget_armature: PointerProperty(name="Armature", type=bpy.types.Object, poll=_is_armature)


class FACEMOCAP_PG_runtime(bpy.types.PropertyGroup):
    """WindowManager.face_mocap: what the capture is doing now (never saved)."""

    state: StringProperty(name="State", default="idle")
    fps: FloatProperty(name="FPS")
    latency_ms: FloatProperty(name="Latency")
    face_found: BoolProperty(name="Face Found")
    recording: BoolProperty(name="Recording")
    frames_recorded: IntProperty(name="Recorded Frames")
    last_error: StringProperty(name="Last Error")
    last_note: StringProperty(name="Last Note", description="Information for the user, e.g. a take recovered")
    importing: BoolProperty(name="Importing")
    import_progress: FloatProperty(name="Import Progress", subtype="PERCENTAGE", min=0.0, max=100.0)
    check_result: StringProperty(name="Interpreter Check")


classes = (
    FACEMOCAP_PG_mapping_row,
    FACEMOCAP_PG_character,
    FACEMOCAP_PG_take,
    FACEMOCAP_PG_scene_character,
    FACEMOCAP_PG_settings,
    FACEMOCAP_PG_runtime,
)

_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.face_mocap = PointerProperty(type=FACEMOCAP_PG_settings)
    bpy.types.Object.face_mocap = PointerProperty(type=FACEMOCAP_PG_character, override=_OVERRIDABLE)
    bpy.types.WindowManager.face_mocap = PointerProperty(type=FACEMOCAP_PG_runtime)


def unregister() -> None:
    del bpy.types.WindowManager.face_mocap
    del bpy.types.Object.face_mocap
    del bpy.types.Scene.face_mocap
    _unregister_classes()
