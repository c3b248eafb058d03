"""scene.*, camera.create, light.create and render.image."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import bpy
from mathutils import Vector

from ..rpc.errors import Conflict, InternalError, Unsupported
from ..rpc.workspace import Workspace
from . import compat, references
from .events import EventHub
from .info import find_object, object_info, scene, world_bounds
from .objects import radians

logger = logging.getLogger(__name__)

SCENE_INFO_OBJECT_NAMES = 20
# Watts for POINT/SPOT/AREA, W/m^2 (irradiance) for SUN: what Blender's Add > Light menu gives.
DEFAULT_LIGHT_ENERGY = {"POINT": 1000.0, "SUN": 1.0, "SPOT": 1000.0, "AREA": 1000.0}


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
        sc = scene()
        objects = list(sc.objects)
        count = len(objects)
        if objects:
            bpy.data.batch_remove(objects)
        removed_data = 0
        if orphans:
            for _ in range(3):  # a removed mesh can orphan its material
                unused = [
                    block
                    for collection in (
                        bpy.data.meshes,
                        bpy.data.materials,
                        bpy.data.cameras,
                        bpy.data.lights,
                        bpy.data.curves,
                    )
                    for block in collection
                    if block.users == 0
                ]
                if not unused:
                    break
                removed_data += len(unused)
                bpy.data.batch_remove(unused)
        # Re-sync the view layer now: its bases still point at the removed objects otherwise.
        bpy.context.view_layer.update()
        self.hub.touched.clear()
        self.hub.publish("scene.cleared", {"objects_removed": count, "data_removed": removed_data})
        return {"objects_removed": count, "data_removed": removed_data}

    def scene_save(self, name: str | None) -> dict[str, Any]:
        path = self.workspace.output_path(name, "scene", ".blend", "name")
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, check_existing=False)
        if not path.is_file():
            raise InternalError(f"Blender did not write {path.name}")
        return {**self.workspace.describe(path), "format": "BLEND"}

    def scene_open(self, name: str) -> dict[str, Any]:
        path = self.workspace.existing(name)
        # Refused (and the previous file put back) if it links libraries or reads files outside the workspace.
        references.open_checked(path, self.workspace.root)
        self.hub.touched.clear()
        info = self.scene_info()
        self.hub.publish("scene.opened", {"name": path.name, "object_count": info["object_count"]})
        return info

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
            **self.workspace.describe(path),
            "format": fmt,
            "width": width,
            "height": height,
            "engine": engine_key,
            "engine_id": engine_id,
            "samples": sample_count,
            "camera": cam_obj.name,
            "camera_added": camera_added,
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
        center = (lo + hi) / 2.0
        radius = max((hi - lo).length / 2.0, 0.5)
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
