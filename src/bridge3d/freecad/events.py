"""Document observer: FreeCAD's change signals become bridge3d events.

FreeCAD calls the ``slot*`` methods on the main thread. ``object.created``,
``object.deleted``, ``document.created`` and ``document.closed`` are
published at once. Property changes are noisy (a single box creation fires
a dozen), so they are collected and published by ``flush()``, which the
host calls after every command (and the GUI timer calls every tick):

- ``object.changed``: one event per object per flush, with the sorted list
  of properties that changed; none for objects created or deleted in the
  same flush window (their created/deleted event says it all);
- ``document.recomputed``: one per document per flush.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]
MAX_PROPERTIES = 32
# Bookkeeping properties that change on every touch and mean nothing to clients.
IGNORED_PROPERTIES = frozenset({"Label2", "ExpressionEngine"})


def _key(obj: Any) -> tuple[str, str]:
    return (obj.Document.Name, obj.Name)


class DocumentEvents:
    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._created: set[tuple[str, str]] = set()
        self._changed: dict[tuple[str, str], tuple[str, set[str]]] = {}
        self._recomputed: set[str] = set()
        self.installed = False

    # ------------------------------------------------------------ install
    def install(self) -> None:
        import FreeCAD

        if not self.installed:
            FreeCAD.addDocumentObserver(self)
            self.installed = True

    def uninstall(self) -> None:
        import FreeCAD

        if self.installed:
            FreeCAD.removeDocumentObserver(self)
            self.installed = False

    # ------------------------------------------------------------ slots (main thread)
    def slotCreatedObject(self, obj: Any) -> None:  # noqa: N802 - FreeCAD's observer API
        try:
            key = _key(obj)
            self._created.add(key)
            self._emit("object.created", {"document": key[0], "name": key[1], "type": obj.TypeId})
        except Exception:
            logger.exception("slotCreatedObject failed")

    def slotDeletedObject(self, obj: Any) -> None:  # noqa: N802
        try:
            key = _key(obj)
            self._changed.pop(key, None)
            self._created.discard(key)
            self._emit("object.deleted", {"document": key[0], "name": key[1], "type": obj.TypeId})
        except Exception:
            logger.exception("slotDeletedObject failed")

    def slotChangedObject(self, obj: Any, prop: str) -> None:  # noqa: N802
        try:
            if prop in IGNORED_PROPERTIES:
                return
            key = _key(obj)
            entry = self._changed.get(key)
            if entry is None:
                self._changed[key] = (obj.TypeId, {prop})
            elif len(entry[1]) < MAX_PROPERTIES:
                entry[1].add(prop)
        except Exception:
            logger.exception("slotChangedObject failed")

    def slotRecomputedDocument(self, doc: Any) -> None:  # noqa: N802
        try:
            self._recomputed.add(doc.Name)
        except Exception:
            logger.exception("slotRecomputedDocument failed")

    def slotCreatedDocument(self, doc: Any) -> None:  # noqa: N802
        try:
            self._emit("document.created", {"document": doc.Name})
        except Exception:
            logger.exception("slotCreatedDocument failed")

    def slotDeletedDocument(self, doc: Any) -> None:  # noqa: N802
        try:
            name = doc.Name
            self._changed = {k: v for k, v in self._changed.items() if k[0] != name}
            self._recomputed.discard(name)
            self._emit("document.closed", {"document": name})
        except Exception:
            logger.exception("slotDeletedDocument failed")

    # ------------------------------------------------------------ flush
    def flush(self) -> None:
        """Publish the collected changes and recomputes; start a new window."""
        changed, self._changed = self._changed, {}
        recomputed, self._recomputed = self._recomputed, set()
        created, self._created = self._created, set()
        for (document, name), (type_id, props) in changed.items():
            if (document, name) in created:
                continue  # FreeCAD sets Label etc. around slotCreatedObject; object.created covers it
            self._emit(
                "object.changed", {"document": document, "name": name, "type": type_id, "properties": sorted(props)}
            )
        for document in sorted(recomputed):
            self._emit("document.recomputed", {"document": document})

    def _emit(self, topic: str, data: dict[str, Any]) -> None:
        try:
            self._publish(topic, data)
        except Exception:
            logger.exception("publishing %s failed", topic)
