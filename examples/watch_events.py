"""Print what happens in Blender or FreeCAD as it happens, until Ctrl-C (or --count events).

    python examples/watch_events.py [--app blender|freecad] [--count N] [TOPIC ...]

TOPICs are shell-style patterns: object.* (the default), render.*, document.*, * for everything. Run it, then
create something (another script, curl, the viewer) and watch the events arrive; ``backend.down`` and
``backend.up`` say when the application's host server goes away and comes back.

The gateway is BRIDGE3D_URL (default http://127.0.0.1:8000), with BRIDGE3D_API_KEY when it asks for a key.
"""

# ruff: noqa: T201 - an example shows what it does with print

from __future__ import annotations

import argparse
import json
import time

from bridge3d.client import Client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topics", nargs="*", default=["object.*"], help="topic patterns (default object.*)")
    parser.add_argument("--app", choices=("blender", "freecad"), default="blender")
    parser.add_argument("--count", type=int, default=0, help="stop after this many events (default: never)")
    args = parser.parse_args(argv)

    with Client() as client:
        application = client.blender if args.app == "blender" else client.freecad
        with application.events(*args.topics) as events:
            print(f"watching {args.app}: {', '.join(args.topics)}", flush=True)
            try:
                for seen, event in enumerate(events, start=1):
                    clock = time.strftime("%H:%M:%S", time.localtime(event.time))
                    print(f"{clock} #{event.seq} {event.topic:<18} {json.dumps(event.data)}", flush=True)
                    if seen == args.count:
                        break
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
