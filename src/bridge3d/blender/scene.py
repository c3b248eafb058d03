"""scene.*, camera.create, light.create, render.image, and the scene a new headless host starts with."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import bpy
from mathutils import Vector

from ..formats import references as file_refs
from ..rpc.errors import Conflict, InternalError, InvalidParams, Unsupported
from ..rpc.workspace import Workspace
from . import compat, references
from .events import EventHub
from .info import find_object, object_info, scene, world_bounds
from .objects import radians, real_users

logger = logging.getLogger(__name__)

SCENE_INFO_OBJECT_NAMES = 20
# Watts for POINT/SPOT/AREA, W/m^2 (irradiance) for SUN: what Blender's Add > Light menu gives.
DEFAULT_LIGHT_ENERGY = {"POINT": 1000.0, "SUN": 1.0, "SPOT": 1000.0, "AREA": 1000.0}
# Engines that light a scene with its light objects; Workbench uses its own studio lighting and needs none.
LIT_ENGINES = ("EEVEE", "CYCLES")
# The sun render.image adds to a scene without lights: from the front-left and above, so the framing camera (from
# the front-right) sees lit and shaded faces; a sun lights a scene of any size the same.
ADDED_SUN_DIRECTION = (-0.5, -1.0, 1.5)
ADDED_SUN_ENERGY = 3.0  # W/m²: a default-grey face turned to it renders light grey, not white (measured, AgX)
# The data scene.clear removes when no object uses it (``orphans``); then the libraries (linked .blend files) that
# nothing comes from any more: a saved scene must not name files of a workspace it no longer has.
ORPHAN_COLLECTIONS = ("meshes", "materials", "cameras", "lights", "curves", "images", "textures", "node_groups")
# The starting content of a new headless scene (host-server setting NEW_SCENE): EMPTY, FACTORY or a .blend template.
EMPTY_SCENE = "empty"
FACTORY_SCENE = "factory"


def clear_scene(orphans: bool) -> tuple[int, int]:
    """Delete every object of the scene and, with ``orphans``, the data nothing uses any more (materials created
    with material.create included: their fake user does not count). Returns (objects, data-blocks) removed."""
    sc = scene()
    objects = list(sc.objects)
    if objects:
        bpy.data.batch_remove(objects)
    removed_data = 0
    if orphans:
        for _ in range(3):  # a removed mesh can orphan its material
            unused = [
                block
                for collection in ORPHAN_COLLECTIONS
                for block in getattr(bpy.data, collection)
                if real_users(block) == 0
            ]
            if not unused:
                break
            removed_data += len(unused)
            bpy.data.batch_remove(unused)
        libraries = unused_libraries()
        removed_data += len(libraries)
        if libraries:
            bpy.data.batch_remove(libraries)
    # Re-sync the view layer now: its bases still point at the removed objects otherwise.
    bpy.context.view_layer.update()
    return len(objects), removed_data


@contextlib.contextmanager
def packed_images() -> Iterator[None]:
    """The images read from files packed into the open file for a moment (a save then carries them), then read
    from their files again: the scene is as it was, and nothing is written to disk but the saved file."""
    packed = []
    for image in bpy.data.images:
        if image.source == "FILE" and image.packed_file is None and image.filepath:
            try:
                image.pack()
            except RuntimeError:  # its file is missing: the saved file names it, as the open one does
                continue
            packed.append(image)
    try:
        yield
    finally:
        for image in packed:
            image.unpack(method="USE_ORIGINAL")  # its file is there: used again, not rewritten


def unused_libraries() -> list[Any]:
    """The linked .blend files no data-block of the open file comes from (Blender keeps them until they are removed)."""
    used = {block.library.session_uid for block in bpy.data.user_map() if getattr(block, "library", None) is not None}
    return [library for library in bpy.data.libraries if library.session_uid not in used]


def start_scene(setting: str, workspace: Workspace) -> str:
    """Make the scene a new headless host serves: ``empty`` (the start-up file without its objects and their data:
    a name asked for is the name given), ``factory`` (what ``import bpy`` gives: a Cube, a Camera and a Light), or
    a .blend of the workspace loaded as an untitled file (checked like scene.open). Returns what it started with;
    InvalidParams names what is wrong with the setting."""
    if setting == FACTORY_SCENE:
        return "Blender's factory start-up scene"
    if setting == EMPTY_SCENE:
        clear_scene(orphans=True)
        return "an empty scene"
    if not setting.lower().endswith(".blend"):
        raise InvalidParams.for_field("new_scene", f"must be {EMPTY_SCENE}, {FACTORY_SCENE} or a workspace .blend")
    path = workspace.existing(setting, "new_scene")
    file_refs.check_file("BLEND", path, workspace.root)
    try:
        # Loaded like a start-up file: untitled, so no save can ever write over the template.
        bpy.ops.wm.read_homefile(filepath=str(path), load_ui=False)
    except RuntimeError:
        raise InvalidParams.for_field("new_scene", f"Blender could not read {path.name} as a .blend file") from None
    outside = references.outside_files(workspace.root)
    if outside:
        bpy.ops.wm.read_homefile(use_empty=True, load_ui=False)
        raise references.refusal(path.name, outside)
    return f"the template {path.name}"


def look_at_euler(location: Vector, target: Vector) -> Any:
    """Euler rotation that points a camera/light (-Z) at ``target`` with +Y up; None when they coincide."""
    direction = target - location
    if direction.length < 1e-9:
        return None
    return direction.to_track_quat("-Z", "Y").to_euler()


def _degrees(values: Any) -> list[float]:
    return [round(math.degrees(v), 6) for v in values]


class SceneCommands:
    def __init__(self, workspace: Workspace, hub: EventHub, version: compat.Version) -> None:
        self.workspace = workspace
        self.hub = hub
        self.version = version

    # ------------------------------------------------------------ scene.*
    def scene_info(self) -> dict[str, Any]:
        """Counts and settings of the current scene (not the whole object list)."""
        sc = scene()
        objects = list(sc.objects)
        names = sorted(o.name for o in objects)
        render = sc.render
        return {
            "name": sc.name,
            "object_count": len(objects),
            "engine": compat.engine_name(render.engine),
            "engine_id": render.engine,
            "frame_start": sc.frame_start,
            "frame_end": sc.frame_end,
            "frame_current": sc.frame_current,
            "fps": round(render.fps / render.fps_base, 6),
            "resolution": [render.resolution_x, render.resolution_y],
            "unit_system": sc.unit_settings.system,
            "unit_scale": sc.unit_settings.scale_length,
            "active_camera": sc.camera.name if sc.camera is not None else None,
            "blender_version": bpy.app.version_string,
            "file": bpy.path.basename(bpy.data.filepath) or None,
            "objects": names[:SCENE_INFO_OBJECT_NAMES],
            "objects_truncated": len(names) > SCENE_INFO_OBJECT_NAMES,
        }

    def scene_clear(self, orphans: bool) -> dict[str, Any]:
        count, removed_data = clear_scene(orphans)
        self.hub.touched.clear()
        self.hub.publish("scene.cleared", {"objects_removed": count, "data_removed": removed_data})
        return {"objects_removed": count, "data_removed": removed_data}

    def scene_save(self, name: str | None, pack: bool = False) -> dict[str, Any]:
        path = self.workspace.output_path(name, "scene", ".blend", "name")
        with packed_images() if pack else contextlib.nullcontext():
            bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, check_existing=False)
        if not path.is_file():
            raise InternalError(f"Blender did not write {path.name}")
        return {**self.workspace.written(path, "name"), "format": "BLEND"}

    def scene_open(self, name: str) -> dict[str, Any]:
        path = self.workspace.existing(name)
        # Refused (and the previous file put back) if it links libraries or reads files outside the workspace.
        references.open_checked(path, self.workspace.root)
        self.hub.touched.clear()
        info = self.scene_info()
        self.hub.publish("scene.opened", {"name": path.name, "object_count": info["object_count"]})
        return info

    def state_save(self, name: str) -> dict[str, Any]:
        """The whole Blender state: a .blend copy (the open file keeps its name)."""
        saved = self.scene_save(name)
        return {"name": saved["name"], "size": saved["size"]}

    def state_load(self, name: str) -> dict[str, Any]:
        return {"objects": self.scene_open(name)["object_count"]}

    # ------------------------------------------------------------ camera / light
    def camera_create(
        self,
        location: tuple[float, float, float],
        name: str | None,
        rotation: tuple[float, float, float] | None,
        look_at: tuple[float, float, float] | None,
        lens: float,
        make_active: bool,
    ) -> dict[str, Any]:
        cam_name = name or "Camera"
        turn = radians(rotation) if rotation is not None else (0.0, 0.0, 0.0)
        if look_at is not None:
            aimed = look_at_euler(Vector(location), Vector(look_at))
            turn = tuple(aimed) if aimed is not None else turn
        data = bpy.data.cameras.new(cam_name)
        data.lens = lens
        obj = bpy.data.objects.new(cam_name, data)
        obj.location = location
        obj.rotation_euler = turn
        scene().collection.objects.link(obj)
        if make_active:
            scene().camera = obj
        self.hub.object_event("object.created", obj)
        info = object_info(obj, visible=True)
        info["lens"] = lens
        info["active"] = scene().camera == obj
        return info

    def light_create(
        self,
        type: str,  # noqa: A002
        name: str | None,
        energy: float | None,
        color: tuple[float, float, float, float],
        location: tuple[float, float, float],
        rotation: tuple[float, float, float] | None,
    ) -> dict[str, Any]:
        light_name = name or type.capitalize()
        power = DEFAULT_LIGHT_ENERGY[type] if energy is None else energy
        data = bpy.data.lights.new(light_name, type)
        data.energy = power
        data.color = color[:3]
        obj = bpy.data.objects.new(light_name, data)
        obj.location = location
        obj.rotation_euler = radians(rotation) if rotation is not None else (0.0, 0.0, 0.0)
        scene().collection.objects.link(obj)
        self.hub.object_event("object.created", obj)
        info = object_info(obj, visible=True)
        info.update({"light_type": type, "energy": power, "color": [round(c, 6) for c in color[:3]]})
        return info

    # ------------------------------------------------------------ render.image
    def render_image(
        self,
        engine: str,
        resolution: tuple[int, int],
        samples: int,
        camera: str | None,
        format: str,  # noqa: A002
        output: str | None,
    ) -> dict[str, Any]:
        engine_key, (width, height), sample_count, fmt = engine, resolution, samples, format
        file_format, extension, color_mode = compat.IMAGE_FORMATS[fmt]
        path = self.workspace.output_path(output, "render", extension, "output")
        sc = scene()
        cam_obj = None
        if camera is not None:
            cam_obj = find_object(camera, "camera")
            if cam_obj.type != "CAMERA":
                raise Conflict.for_field("camera", f"{cam_obj.name!r} is a {cam_obj.type}, not a CAMERA")

        engine_id = compat.engine_id(engine_key, self.version)
        camera_added = False
        if cam_obj is None:
            cam_obj = sc.camera
            if cam_obj is None:
                cam_obj = self._add_framing_camera(width / height)
                camera_added = True
        light_added = engine_key in LIT_ENGINES and not any(
            obj.type == "LIGHT" and not obj.hide_render for obj in sc.objects
        )
        if light_added:
            self._add_sun()

        render = sc.render
        settings = render.image_settings
        saved = {
            "engine": render.engine,
            "x": render.resolution_x,
            "y": render.resolution_y,
            "pct": render.resolution_percentage,
            "filepath": render.filepath,
            "camera": sc.camera,
            "file_format": settings.file_format,
            "color_mode": settings.color_mode,
        }
        try:
            render.engine = engine_id
        except TypeError:
            raise Unsupported(
                f"engine: {engine} is not available in Blender {bpy.app.version_string}",
                {"field": "engine", "value": engine},
            ) from None
        try:
            render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
            settings.file_format = file_format
            settings.color_mode = color_mode
            render.filepath = str(path)
            sc.camera = cam_obj
            self._set_samples(sc, engine_key, sample_count)
            self.hub.render_output = path.name
            started = time.monotonic()
            bpy.ops.render.render(write_still=True)
            seconds = time.monotonic() - started
        finally:
            self.hub.render_output = None
            render.engine = saved["engine"]
            render.resolution_x, render.resolution_y = saved["x"], saved["y"]
            render.resolution_percentage = saved["pct"]
            settings.file_format = saved["file_format"]
            try:
                settings.color_mode = saved["color_mode"]
            except TypeError:
                logger.debug("could not restore color_mode %s", saved["color_mode"])
            render.filepath = saved["filepath"]
            sc.camera = cam_obj if camera_added else saved["camera"]
        if not path.is_file():
            raise InternalError(f"Blender did not write {path.name}", {"engine": engine_id})
        return {
            **self.workspace.written(path, "output"),
            "format": fmt,
            "width": width,
            "height": height,
            "engine": engine_key,
            "engine_id": engine_id,
            "samples": sample_count,
            "camera": cam_obj.name,
            "camera_added": camera_added,
            "light_added": light_added,
            "seconds": round(seconds, 3),
        }

    def _set_samples(self, sc: Any, engine_key: str, samples: int) -> None:
        if engine_key == "CYCLES":
            sc.cycles.samples = samples
            sc.cycles.device = "CPU" if bpy.app.background else sc.cycles.device
            if hasattr(sc.cycles, "use_denoising"):
                sc.cycles.use_denoising = False
        elif engine_key == "EEVEE":
            sc.eevee.taa_render_samples = samples
        # Workbench anti-aliasing is an enum (scene.display.render_aa); left as the scene has it.

    def _add_framing_camera(self, aspect: float) -> Any:
        """A camera that sees the world bounds of every visible object, from the front-right-top."""
        center, radius = _rendered_sphere()
        data = bpy.data.cameras.new("Camera")
        data.lens = 50.0
        # The narrower of the two fields of view must contain the bounding sphere.
        fov = 2.0 * math.atan(math.tan(data.angle / 2.0) * min(aspect, 1.0 / aspect))
        distance = radius / math.sin(fov / 2.0) * 1.1
        direction = Vector((1.0, -1.0, 0.8)).normalized()
        location = center + direction * distance
        data.clip_end = max(data.clip_end, distance + radius * 2.0)
        obj = bpy.data.objects.new("Camera", data)
        obj.location = location
        obj.rotation_euler = look_at_euler(location, center)
        scene().collection.objects.link(obj)
        scene().camera = obj
        self.hub.object_event("object.created", obj, reason="render.image added a camera")
        return obj

    def _add_sun(self) -> Any:
        """A sun above the rendered objects, shining on them from the front-left (it stays, like the camera)."""
        center, radius = _rendered_sphere()
        data = bpy.data.lights.new("Light", "SUN")
        data.energy = ADDED_SUN_ENERGY
        obj = bpy.data.objects.new("Light", data)
        obj.location = center + Vector(ADDED_SUN_DIRECTION).normalized() * radius * 2.0
        obj.rotation_euler = look_at_euler(obj.location, center)
        scene().collection.objects.link(obj)
        self.hub.object_event("object.created", obj, reason="render.image added a light")
        return obj


def _rendered_sphere() -> tuple[Vector, float]:
    """Centre and radius of a sphere around the world bounds of every rendered object (a unit box when none)."""
    lo = Vector((math.inf,) * 3)
    hi = Vector((-math.inf,) * 3)
    for obj in scene().objects:
        if obj.type in {"CAMERA", "LIGHT", "EMPTY"} or obj.hide_render:
            continue
        a, b = world_bounds(obj)
        lo = Vector(map(min, lo, a))
        hi = Vector(map(max, hi, b))
    if not math.isfinite(lo.x):
        lo, hi = Vector((-1.0, -1.0, -1.0)), Vector((1.0, 1.0, 1.0))
    return (lo + hi) / 2.0, max((hi - lo).length / 2.0, 0.5)
