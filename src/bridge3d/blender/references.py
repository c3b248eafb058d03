"""Files outside the workspace that Blender data points at, and undoing an import or open that brought them in.

Blender reads many kinds of data from files named inside a .blend or an imported model: linked libraries, images,
sounds, movie clips, fonts, volumes, Alembic/USD caches, external texts, sequencer strips, modifier caches, point
caches, Geometry Nodes bakes and the Geometry Nodes "Import" nodes; a compositor File Output node writes files
where it is told. Images and caches are read only when drawn or evaluated, so removing such data before anything
uses it keeps the bytes out of the scene. ``bpy.utils.blend_paths`` lists what Blender's own "external data"
tools know of; the rest is checked here by type.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bpy

from ..formats import names as file_names
from ..formats import references as file_refs
from ..formats.names import printable
from ..rpc.errors import InvalidParams

logger = logging.getLogger(__name__)

# bpy.data collections whose datablocks are read from ``filepath``.
FILE_COLLECTIONS = {
    "libraries": "library",
    "images": "image",
    "sounds": "sound",
    "movieclips": "movieclip",
    "fonts": "font",
    "volumes": "volume",
    "cache_files": "cache_file",
    "texts": "text",
}
BUILTIN_FONT = "<builtin>"
NOT_FROM_FILES = {"GENERATED", "VIEWER"}  # image sources with no file behind them
RESTORE_PREFIX = ".bridge3d-restore-"


def allowed_roots(workspace_root: Path) -> tuple[Path, ...]:
    """The workspace, and Blender's own bundled data (every file refers to the essentials brush assets there)."""
    system_resource = getattr(bpy.utils, "system_resource", None)
    if system_resource is not None:
        datafiles = system_resource("DATAFILES")
    else:  # older Blender: the bundled data folder
        datafiles = str(Path(bpy.utils.resource_path("LOCAL")) / "datafiles")
    return (workspace_root,) + ((Path(datafiles).resolve(),) if datafiles else ())


def _inside(path: str, roots: tuple[Path, ...]) -> bool:
    """Whether an absolute (already ``bpy.path.abspath``-ed) path resolves inside one of ``roots``, symlinks
    followed. A path still relative to an unsaved file ('//...') has no place yet and counts as outside."""
    if not path or path.startswith("//"):
        return False
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(resolved.is_relative_to(root) for root in roots)


def _packed(block: Any) -> bool:
    if getattr(block, "packed_file", None) is not None:
        return True
    return bool(len(getattr(block, "packed_files", ()) or ()))


def _datablock_files() -> Iterator[tuple[str, str, str, Any]]:
    """(kind, name, raw path, library) of every datablock read from a file."""
    for collection in FILE_COLLECTIONS:
        for block in getattr(bpy.data, collection, ()):
            path = getattr(block, "filepath", "")
            if not path or _packed(block):
                continue
            if collection == "fonts" and path == BUILTIN_FONT:
                continue
            if collection == "images" and block.source in NOT_FROM_FILES:
                continue
            if collection == "texts" and block.is_in_memory:
                continue
            yield FILE_COLLECTIONS[collection], block.name, path, block.library


def _modifier_files() -> Iterator[tuple[str, str, str, Any]]:
    """Point caches read from an external folder and Geometry Nodes bakes (neither is in blend_paths)."""
    for obj in bpy.data.objects:
        caches = [(system.name, system.point_cache) for system in getattr(obj, "particle_systems", ())]
        for modifier in obj.modifiers:
            cache = getattr(modifier, "point_cache", None)
            if cache is not None:
                caches.append((modifier.name, cache))
            canvas = getattr(modifier, "canvas_settings", None)
            for surface in getattr(canvas, "canvas_surfaces", ()) or ():
                caches.append((f"{modifier.name}/{surface.name}", surface.point_cache))
            if modifier.type == "NODES":
                if getattr(modifier, "bake_directory", ""):
                    yield "bake", f"{obj.name}/{modifier.name}", modifier.bake_directory, obj.library
                for bake in getattr(modifier, "bakes", ()):
                    if getattr(bake, "use_custom_path", False) and bake.directory:
                        yield "bake", f"{obj.name}/{modifier.name}", bake.directory, obj.library
        for name, cache in caches:
            if cache is not None and cache.use_external and cache.filepath:
                yield "point_cache", f"{obj.name}/{name}", cache.filepath, obj.library
    for scene in bpy.data.scenes:
        world = scene.rigidbody_world
        cache = getattr(world, "point_cache", None) if world is not None else None
        if cache is not None and cache.use_external and cache.filepath:
            yield "point_cache", f"{scene.name}/rigidbody_world", cache.filepath, scene.library


def _node_files() -> Iterator[tuple[str, str, str | None, Any]]:
    """Geometry Nodes file imports (a computed path cannot be checked: None) and compositor File Output targets."""
    trees = list(bpy.data.node_groups)
    # Before Blender 5.0 a scene's compositor tree is embedded in the scene, not a node group.
    trees += [t for t in (getattr(sc, "node_tree", None) for sc in bpy.data.scenes) if t is not None and t not in trees]
    for tree in trees:
        for node in tree.nodes:
            label = f"{tree.name}/{node.name}"
            if node.bl_idname.startswith("GeometryNodeImport"):
                socket = node.inputs.get("Path")
                if socket is None or socket.is_linked:
                    yield "node_import", label, None, tree.library
                elif socket.default_value:
                    yield "node_import", label, socket.default_value, tree.library
            elif node.bl_idname == "CompositorNodeOutputFile":
                directory = getattr(node, "directory", None)
                if directory is None:  # before Blender 5.0
                    directory = node.base_path
                    names = [slot.path for slot in node.file_slots]
                else:
                    names = [node.file_name] + [item.name for item in node.file_output_items]
                folder = directory if directory.endswith(("/", "\\")) else directory + "/"
                for name in names or [""]:
                    yield "file_output", label, folder + name, tree.library


def outside_files(root: Path) -> list[dict[str, str]]:
    """What the open Blender data reads from (or writes to) outside ``root``: [{kind, name, path}], the path as the
    file gives it (absolute paths resolved here could show where the workspace is)."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    checked_paths: set[str] = set()
    roots = allowed_roots(root)

    def note(kind: str, name: str, raw: str | None, library: Any) -> None:
        if raw is None:
            found.setdefault((kind, name, ""), {"kind": kind, "name": name, "path": "(computed in the node tree)"})
            return
        checked_paths.add(raw)
        if not _inside(bpy.path.abspath(raw, library=library), roots):
            found.setdefault((kind, name, raw), {"kind": kind, "name": name, "path": printable(raw)})

    for kind, name, raw, library in _datablock_files():
        note(kind, name, raw, library)
    for kind, name, raw, library in _modifier_files():
        note(kind, name, raw, library)
    for kind, name, node_raw, library in _node_files():
        note(kind, name, node_raw, library)
    # Whatever else Blender knows to be external data (sequencer strips, modifier caches, OSL/IES files, ...).
    as_stored = bpy.utils.blend_paths(absolute=False, packed=False, local=False)
    resolved = bpy.utils.blend_paths(absolute=True, packed=False, local=False)
    shown = as_stored if len(as_stored) == len(resolved) else [Path(p).name for p in resolved]
    for raw, absolute in zip(shown, resolved, strict=True):
        if raw not in checked_paths and not _inside(absolute, roots):
            found.setdefault(("file", "", raw), {"kind": "file", "name": "", "path": printable(raw)})
    return list(found.values())


def refusal(what: str, references: list[dict[str, str]]) -> InvalidParams:
    return file_names.refusal(
        "name",
        what,
        references,
        "Blender",
        "pack or embed images and other data into the file, or upload them beside it",
    )


def datablock_ids() -> set[int]:
    """The session ids of every datablock in the file (to tell which ones an import added)."""
    return {block.session_uid for block in bpy.data.user_map()}


def remove_added(before: set[int]) -> int:
    """Remove every datablock not in ``before`` (all an import added, libraries included); returns how many."""
    added = [block for block in bpy.data.user_map() if block.session_uid not in before]
    if added:
        bpy.data.batch_remove(added)
    with contextlib.suppress(RuntimeError, AttributeError):
        bpy.context.view_layer.update()
    return len(added)


def _key(entry: dict[str, str]) -> tuple[str, str, str]:
    return entry["kind"], entry["name"], entry["path"]


def unchecked(what: str, exc: BaseException) -> InvalidParams:
    """The refusal when the scan itself fails: what cannot be checked is not kept."""
    return InvalidParams.for_field(
        "name",
        f"what {what} brought in could not be checked for files outside the workspace ({type(exc).__name__}), "
        "so bridge3d did not keep it",
    )


@contextlib.contextmanager
def checked_import(root: Path, what: str) -> Iterator[None]:
    """Run an import; if it added data pointing outside ``root`` (or failed, or what it added cannot be checked),
    remove everything it added."""
    before_ids = datablock_ids()
    before = {_key(entry) for entry in outside_files(root)}
    try:
        yield
    except BaseException:
        remove_added(before_ids)
        raise
    try:
        added = [entry for entry in outside_files(root) if _key(entry) not in before]
    except Exception as exc:  # any failure of the scan refuses the import
        removed = remove_added(before_ids)
        logger.exception("refused import of %s: the scan failed, %d datablocks removed", what, removed)
        raise unchecked(what, exc) from None
    if added:
        removed = remove_added(before_ids)
        logger.warning("refused import of %s: %d outside references, %d datablocks removed", what, len(added), removed)
        raise refusal(what, added)


def open_checked(path: Path, root: Path) -> None:
    """Open a .blend, and if it points outside ``root``, put the previous file back as it was (unsaved changes too).

    Opening reads linked libraries at once, so the previous state is first saved to a copy in a hidden folder of
    the workspace (under its own file name, so that name is what the restored file is called again) and loaded
    after a refusal; nothing of the refused file stays in memory.
    """
    # Only what Blender reads as a .blend (plain, gzip or zstd) is opened, and nothing that names outside files as
    # another format its content could be read as.
    file_refs.check_file("BLEND", path, root)
    untitled = not bpy.data.filepath
    folder = root / f"{RESTORE_PREFIX}{secrets.token_hex(6)}"
    folder.mkdir(mode=0o700)
    restore = folder / (Path(bpy.data.filepath).name if not untitled else "untitled.blend")
    try:
        # Paths relative to a named file are remapped to the copy's folder; an untitled file has only absolute
        # ones, and remapping would make them relative to a file that is untitled again after the restore.
        bpy.ops.wm.save_as_mainfile(filepath=str(restore), copy=True, check_existing=False, relative_remap=not untitled)
        try:
            # use_scripts=False: never trust a file that came through the API, whatever the GUI preference says.
            bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False, use_scripts=False)
        except RuntimeError:
            raise InvalidParams.for_field(
                "name", f"Blender could not open {path.name}: not a readable .blend file"
            ) from None
        try:
            refused = outside_files(root)
        except Exception as exc:  # any failure of the scan refuses the file
            _restore(restore, untitled)
            logger.exception("refused to open %s: the scan failed", path.name)
            raise unchecked(path.name, exc) from None
        if refused:
            _restore(restore, untitled)
            logger.warning("refused to open %s: %d outside references", path.name, len(refused))
            raise refusal(path.name, refused)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _restore(copy: Path, untitled: bool) -> None:
    """Load the saved copy: as an untitled file if the previous one was (like the start-up file), else by path."""
    try:
        if untitled:
            bpy.ops.wm.read_homefile(filepath=str(copy), load_ui=False)
        else:
            bpy.ops.wm.open_mainfile(filepath=str(copy), load_ui=False)
    except RuntimeError:
        # Never leave the refused file loaded: an empty file is the fallback.
        logger.exception("could not restore the previous file; starting an empty one")
        bpy.ops.wm.read_homefile(use_empty=True, load_ui=False)
