"""``hookpoints`` / ``python -m hookpoints``: the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _plugins_json() -> dict[str, Any]:
    from .plugins import plugin_infos

    return {
        "plugins": [
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "contributions": {kind: list(names) for kind, names in info.contributions.items()},
                "errors": [
                    {"stage": e.stage, "error": e.error, "hint": e.hint, "message": str(e)}
                    for e in info.errors
                ],
            }
            for info in plugin_infos()
        ]
    }


def _print_plugins(data: dict[str, Any]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for plugin in data["plugins"]:
            origin = (
                f"{plugin['distribution']} {plugin['version']}" if plugin["distribution"] else "in-process"
            )
            print(f"{plugin['name']}  ({origin})")
            for kind, names in plugin["contributions"].items():
                print(f"    {kind}: {', '.join(names)}")
            for error in plugin["errors"]:
                print(f"    ERROR {error['message']}")
        return
    table = Table(title="hookpoints plugins")
    for column in ("plugin", "distribution", "contributes", "errors"):
        table.add_column(column, overflow="fold")
    for plugin in data["plugins"]:
        origin = f"{plugin['distribution']} {plugin['version']}" if plugin["distribution"] else "in-process"
        contributes = "\n".join(f"{k}: {', '.join(v)}" for k, v in plugin["contributions"].items())
        errors = "\n".join(f"[red]{e['stage']}: {e['error']}[/red]\n{e['hint']}" for e in plugin["errors"])
        table.add_row(plugin["name"], origin, contributes or "-", errors or "-")
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hookpoints", description="hookpoints command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="cache, patch and report on the embedded TinyGPT model")
    demo.add_argument("--layers", type=int, default=2)
    demo.add_argument("--head", type=int, default=1)
    plugins = sub.add_parser("plugins", help="installed plugins, what they contribute, load errors")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        print(run_demo(layers=args.layers, head=args.head))
    elif args.command == "plugins":
        data = _plugins_json()
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            _print_plugins(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
