"""``hookpoints`` / ``python -m hookpoints``: the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _plugins_json() -> dict[str, Any]:
    from .plugins.host import plugin_infos

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
                "conflicts": list(info.conflicts),
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
            for conflict in plugin["conflicts"]:
                print(f"    CONFLICT {conflict}")
        return
    table = Table(title="hookpoints plugins")
    for column in ("plugin", "distribution", "contributes", "errors"):
        table.add_column(column, overflow="fold")
    for plugin in data["plugins"]:
        origin = f"{plugin['distribution']} {plugin['version']}" if plugin["distribution"] else "in-process"
        contributes = "\n".join(f"{k}: {', '.join(v)}" for k, v in plugin["contributions"].items())
        errors = "\n".join(
            [f"[red]{e['stage']}: {e['error']}[/red]\n{e['hint']}" for e in plugin["errors"]]
            + [f"[yellow]conflict: {c}[/yellow]" for c in plugin["conflicts"]]
        )
        table.add_row(plugin["name"], origin, contributes or "-", errors or "-")
    Console().print(table)


def _report(args: argparse.Namespace) -> int:
    import importlib

    import torch

    from .registries import REPORTERS
    from .reports.data import build_report
    from .reports.recording import record

    module_name, _, attr = args.factory.partition(":")
    if not module_name or not attr:
        print(f"hookpoints report: expected MODULE:FACTORY, got {args.factory!r}", file=sys.stderr)
        return 2
    factory = importlib.import_module(module_name)
    for part in attr.split("."):
        factory = getattr(factory, part)
    model = factory()  # type: ignore[operator]
    if not hasattr(model, "hook_dict"):
        print(
            f"hookpoints report: {args.factory} returned {type(model).__name__}, which has no hook points",
            file=sys.stderr,
        )
        return 2
    run = None
    if args.input is not None:
        value = eval(args.input, {"torch": torch})  # the user's own expression, on their machine
        with torch.no_grad(), record(model) as run:
            model(*value) if isinstance(value, tuple) else model(value)
    reporter = REPORTERS.create(args.reporter)
    data = build_report(model, run=run)
    width = args.width or min(__import__("shutil").get_terminal_size((100, 24)).columns, 160)
    print(reporter.render(data, width=width, color=sys.stdout.isatty()))
    if args.svg:
        export = getattr(reporter, "export_svg", None)
        if export is None:
            name = args.reporter or REPORTERS.default().name
            print(
                f"hookpoints report: reporter {name!r} cannot export SVG; install hookpoints-rich and use "
                "--reporter rich",
                file=sys.stderr,
            )
            return 2
        print(f"wrote {export(data, args.svg, width=width)}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hookpoints", description="hookpoints command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="cache, patch and report on the embedded TinyGPT model")
    demo.add_argument("--layers", type=int, default=2)
    demo.add_argument("--head", type=int, default=1)
    demo.add_argument("--reporter", default=None, help="reporter name (default: highest priority installed)")
    demo.add_argument("--width", type=int, default=None)
    plugins = sub.add_parser("plugins", help="installed plugins, what they contribute, load errors")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    rep = sub.add_parser("report", help="hook report of any importable model factory")
    rep.add_argument("factory", help="MODULE:FACTORY, a callable returning a model with hook points")
    rep.add_argument(
        "--input", help="Python expression for the input (torch is in scope); runs and records a pass"
    )
    rep.add_argument("--reporter", default=None, help="reporter name (default: highest priority installed)")
    rep.add_argument("--width", type=int, default=None)
    rep.add_argument(
        "--svg", metavar="PATH", help="also export the report as SVG (reporters with export_svg)"
    )
    args = parser.parse_args(argv)
    if args.command == "report":
        return _report(args)
    if args.command == "demo":
        from .demo import run_demo

        print(
            run_demo(
                layers=args.layers,
                head=args.head,
                reporter=args.reporter,
                width=args.width,
                color=sys.stdout.isatty(),
            )
        )
    elif args.command == "plugins":
        data = _plugins_json()
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            _print_plugins(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
