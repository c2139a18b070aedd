"""Generate ARKit Shape Keys on real heads: real render, real capture process and MediaPipe, real bake."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Matrix, Vector

from bake_scene import curves_by_path, keys, set_fps
from head_measures import eye_opening
from face_mocap.mapping.channels import ARKIT_NAMES
from face_mocap.ui import generate_shapes, shape_preview

LIVE_LINK_CSV = "MySlate_3_Jason_Millers_iPhone.csv"


@pytest.fixture
def fbhead(addon, interop):
    """The shared Live Link Face head with its own shape keys removed, selected and active."""
    bpy.ops.wm.open_mainfile(filepath=str(interop / "Live_Link_Face.blend"), load_ui=False)
    head = bpy.data.objects["FBHead"]
    head.shape_key_clear()
    select(head)
    return head


def select(obj: bpy.types.Object, *others: bpy.types.Object) -> None:
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    for o in (obj, *others):
        o.select_set(True)
    bpy.context.view_layer.objects.active = obj


def offsets(obj: bpy.types.Object, name: str) -> np.ndarray:
    blocks = obj.data.shape_keys.key_blocks
    n = len(obj.data.vertices)
    co, base = np.empty(n * 3), np.empty(n * 3)
    blocks[name].data.foreach_get("co", co)
    blocks[0].data.foreach_get("co", base)
    return (co - base).reshape(-1, 3)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def nearest_vertex(obj: bpy.types.Object, marker: str) -> int:
    co = np.empty(len(obj.data.vertices) * 3)
    obj.data.vertices.foreach_get("co", co)
    local = obj.matrix_world.inverted() @ bpy.data.objects[marker].matrix_world.translation
    return int(np.linalg.norm(co.reshape(-1, 3) - np.array(local[:]), axis=1).argmin())


def test_fbhead_gets_52_arkit_keys_that_auto_detect_maps_and_a_take_drives(fbhead, interop):
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    names = [k.name for k in fbhead.data.shape_keys.key_blocks]
    assert names[0] == "Basis" and names[1:] == list(ARKIT_NAMES)
    assert bpy.context.scene.face_mocap.target_mesh == fbhead
    assert {row.target for row in fbhead.face_mocap.rows} == set(ARKIT_NAMES)

    lower_lip, upper_lip = nearest_vertex(fbhead, "marker_lip_bot.l"), nearest_vertex(fbhead, "marker_lip_top.l")
    jaw = offsets(fbhead, "jawOpen")
    assert jaw[lower_lip, 2] < -0.008  # the lower lip drops by more than 8 mm (the head is 19 cm wide)
    assert np.linalg.norm(jaw[upper_lip]) < 0.2 * -jaw[lower_lip, 2]  # the upper lip stays

    seen_open = eye_opening(fbhead, "l")  # the see-through gap between the lids, from the front
    assert seen_open > 0.005 and eye_opening(fbhead, "l", "eyeBlinkLeft") < 0.1 * seen_open  # the left eye closes
    assert eye_opening(fbhead, "r", "eyeBlinkLeft") == pytest.approx(eye_opening(fbhead, "r"))  # the right stays open

    set_fps(30)
    bpy.ops.facemocap.import_livelink(filepath=str(interop / LIVE_LINK_CSV))
    assert bpy.ops.facemocap.bake_take() == {"FINISHED"}
    curve = keys(curves_by_path(fbhead.data.shape_keys)[('key_blocks["jawOpen"].value', 0)])
    widest, closed = curve[curve[:, 1].argmax()], curve[curve[:, 1].argmin()]
    assert widest[1] - closed[1] > 0.2
    heights = []
    for frame in (closed[0], widest[0]):
        bpy.context.scene.frame_set(int(round(frame)))
        mesh = fbhead.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
        heights.append(mesh.vertices[lower_lip].co.z)
        fbhead.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh_clear()
    assert heights[0] - heights[1] > 0.003  # the baked take opens the mouth: the lower lip drops > 3 mm


def test_a_moved_rotated_scaled_head_gets_the_same_keys(fbhead):
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    plain = {name: offsets(fbhead, name) for name in ARKIT_NAMES}
    fbhead.shape_key_clear()
    fbhead.matrix_world = (Matrix.Translation((1.5, -2.0, 0.7)) @ Matrix.Rotation(math.radians(35), 4, "Z")
                           @ Matrix.Rotation(math.radians(-20), 4, "X") @ Matrix.Scale(3.0, 4))
    bpy.context.view_layer.update()
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    for name in ARKIT_NAMES:  # local offsets: the same shape, whatever the object's transform
        moved = offsets(fbhead, name)  # (up to MediaPipe's answer on a render rasterised a little differently)
        scale = np.abs(plain[name]).max()
        assert np.abs(moved - plain[name]).max() < 0.1 * scale, name
        assert cosine(moved, plain[name]) > 0.995, name


def test_symmetric_head_gets_mirrored_keys(fbhead):
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    co = np.empty(len(fbhead.data.vertices) * 3)
    fbhead.data.vertices.foreach_get("co", co)
    mirror = generate_shapes.mirror_map(co.reshape(-1, 3))
    assert mirror is not None  # FBHead is modelled symmetric
    flip = np.array([-1.0, 1.0, 1.0])
    for name in ARKIT_NAMES:
        d = offsets(fbhead, name)
        if name.endswith("Left"):
            other = offsets(fbhead, name.replace("Left", "Right"))
            assert np.allclose(other, d[mirror] * flip, atol=1e-6), name
        elif not name.endswith("Right"):
            assert np.allclose(d, d[mirror] * flip, atol=1e-6), name


def test_teeth_and_tongue_follow_the_jaw(fbhead):
    lip = bpy.data.objects["marker_lip_bot.l"].matrix_world.translation
    bpy.ops.mesh.primitive_cube_add(size=0.01, location=(0.0, lip.y + 0.02, lip.z - 0.006))
    teeth = bpy.context.active_object
    teeth.name = "LowerTeeth"
    bpy.ops.mesh.primitive_cube_add(size=0.01, location=(0.0, lip.y + 0.03, lip.z + 0.01))
    upper = bpy.context.active_object
    upper.name = "UpperTeeth"
    eye = bpy.data.objects["marker_eyelid_top.l"].matrix_world.translation
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.012, location=(eye.x, eye.y + 0.012, eye.z - 0.004))
    eyeball = bpy.context.active_object
    eyeball.name = "EyeLeft"
    select(fbhead, teeth, upper, eyeball)
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    drop = offsets(teeth, "jawOpen")
    assert (drop[:, 2] < -0.004).all()  # the lower teeth go down with the jaw
    assert np.abs(offsets(upper, "jawOpen")).max() < 1e-6  # the upper teeth stay
    assert eyeball.data.shape_keys is None  # eyes are left to the eye bones


def test_guide_empties_stand_in_for_mediapipe(fbhead):
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    found = {name: offsets(fbhead, name) for name in ARKIT_NAMES}
    fbhead.shape_key_clear()
    from face_mocap.mapping.canonical import load_canonical_face
    from face_mocap.mapping.shape_transfer import fit_face
    from face_mocap.ui.face_landmarks import find_on_mesh

    face = load_canonical_face(generate_shapes.model_file(bpy.context))
    fit = fit_face(face, find_on_mesh(bpy.context, fbhead, []))
    for suffix, landmark in generate_shapes.GUIDES.items():
        guide = bpy.data.objects.new(generate_shapes.GUIDE_PREFIX + suffix, None)
        bpy.context.scene.collection.objects.link(guide)
        guide.location = fbhead.matrix_world @ Vector(fit.points[landmark])
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    cosines = [cosine(found[name], offsets(fbhead, name)) for name in ARKIT_NAMES]
    assert np.median(cosines) > 0.8 and min(cosines) > 0.3


def test_a_cube_has_no_face_and_gets_nothing(addon):
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    with pytest.raises(RuntimeError, match="No face found on a front render of Cube"):
        bpy.ops.facemocap.generate_shape_keys()
    assert cube.data.shape_keys is None


def test_preview_grid_shows_each_new_shape(fbhead, tmp_path):
    path = tmp_path / "shapes.png"
    assert bpy.ops.facemocap.generate_shape_keys(preview_path=str(path)) == {"FINISHED"}
    image = bpy.data.images.load(str(path))
    width, height = image.size
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    pixels = pixels.reshape(height, width, 4)[::-1]  # top row first
    tile_w, rows = width // 9, 6  # Basis + 52 shapes, 9 to a row
    tile_h = height // rows
    assert width == 9 * shape_preview.TILE_PX and height == rows * tile_h

    def tile(index: int) -> np.ndarray:
        row, col = divmod(index, 9)
        return pixels[row * tile_h:(row + 1) * tile_h, col * tile_w:(col + 1) * tile_w, :3]

    basis = tile(0)
    for index in (1 + ARKIT_NAMES.index("jawOpen"), 1 + ARKIT_NAMES.index("eyeBlinkLeft")):
        assert np.abs(tile(index) - basis).mean() > 1e-3  # the shape shows
    assert [k.value for k in fbhead.data.shape_keys.key_blocks[1:] if k.value] == []  # the values are back


def test_a_head_turned_inside_its_mesh_gets_the_same_keys_turned(fbhead):
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    plain = {name: offsets(fbhead, name) for name in ARKIT_NAMES}
    fbhead.shape_key_clear()
    turn = Matrix.Rotation(math.radians(20), 4, "Z") @ Matrix.Rotation(math.radians(-10), 4, "X")
    fbhead.data.transform(turn)  # the mesh data itself turned: the front render sees a turned face
    fbhead.data.update()
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    rot = np.array(turn.to_3x3())
    cosines = [cosine(offsets(fbhead, name), plain[name] @ rot.T) for name in ARKIT_NAMES]
    assert np.median(cosines) > 0.9 and min(cosines) > 0.6, sorted(zip(np.round(cosines, 3), ARKIT_NAMES))[:5]


def test_a_head_on_a_tall_body_is_found_and_the_body_stays_still(fbhead):
    head_vertices = len(fbhead.data.vertices)
    bpy.ops.mesh.primitive_cylinder_add(radius=0.3, depth=1.5, location=(0.0, 0.02, -0.95))
    body = bpy.context.active_object
    select(fbhead, body)
    bpy.ops.object.join()  # one mesh: the face is a small part of the whole front view
    select(fbhead)
    assert bpy.ops.facemocap.generate_shape_keys() == {"FINISHED"}
    lower_lip = nearest_vertex(fbhead, "marker_lip_bot.l")
    assert offsets(fbhead, "jawOpen")[lower_lip, 2] < -0.008
    assert max(np.abs(offsets(fbhead, name)[head_vertices:]).max() for name in ARKIT_NAMES) == 0.0
