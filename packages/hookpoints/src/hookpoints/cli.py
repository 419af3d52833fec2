"""``hookpoints`` / ``python -m hookpoints``: the command line.

Arguments are parsed before torch is imported, so ``--help``, ``--version`` and a mistyped
command answer at once. A mistake of the user's (unknown command, a factory that cannot be
imported or returns no model, an unknown reporter, a missing optional package) ends in one
line on stderr naming it, with close matches or the package to install, and exit code 2; an
error raised inside hookpoints, the user's factory or the model keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from ._version import __version__
from .errors import DuplicateNameError, UnknownNameError, close_matches

if TYPE_CHECKING:
    from collections.abc import Callable

COMMANDS = ("demo", "plugins", "report")


class UsageError(Exception):
    """A mistake in what the user asked for: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's own errors (unknown option, missing argument) end in its usage line + exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hookpoints", description="hookpoints command line")
    parser.add_argument("--version", action="version", version=f"hookpoints {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    demo = sub.add_parser("demo", help="cache, patch and report on the embedded TinyGPT model")
    demo.add_argument("--layers", type=int, default=2)
    demo.add_argument("--head", type=int, default=1)
    plugins = sub.add_parser("plugins", help="installed plugins, what they contribute, load errors")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    rep = sub.add_parser("report", help="hook report of any importable model factory")
    rep.add_argument("factory", help="MODULE:FACTORY, a callable returning a model (hook points or not)")
    rep.add_argument(
        "--input", help="Python expression for the input (torch is in scope); runs and records a pass"
    )
    rep.add_argument(
        "--svg", metavar="PATH", help="also export the report as SVG (reporters with export_svg)"
    )
    for command in (demo, rep):
        command.add_argument(
            "--reporter", default=None, help="reporter name (default: highest priority installed)"
        )
        command.add_argument("--width", type=int, default=None, help="line width (default: the terminal's)")
        command.add_argument(
            "--output", metavar="FILE", help="write the report to FILE instead of standard output"
        )
    return parser


def _check_command(argv: list[str]) -> None:
    """An unknown command is named with the commands it looks like (argparse only lists them)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is not None and command not in COMMANDS:
        near = close_matches(command, COMMANDS, n=2)
        hint = (
            f"did you mean {' or '.join(repr(c) for c in near)}?"
            if near
            else f"expected one of {', '.join(COMMANDS)}"
        )
        raise UsageError(f"unknown command {command!r}; {hint} (hookpoints --help lists them)")


def output_width(requested: int | None) -> int:
    """``--width``, else the terminal's (at most 160), else ``$COLUMNS``, else 120 in a pipe or file."""
    if requested is not None:
        if requested < 20:
            raise UsageError(f"--width must be at least 20; got {requested}")
        return requested
    if sys.stdout.isatty():
        return min(os.get_terminal_size(sys.stdout.fileno()).columns, 160)
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 20 else 120


# ---------------------------------------------------------------------------------- plugins
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
    # Names never wrap (a distribution name cut mid-word cannot be pip-installed); the
    # contributions and errors columns wrap between words.
    table = Table(title="hookpoints plugins", title_justify="left")
    table.add_column("plugin", no_wrap=True)
    table.add_column("distribution", no_wrap=True)
    table.add_column("contributes")
    table.add_column("errors")
    for plugin in data["plugins"]:
        origin = f"{plugin['distribution']} {plugin['version']}" if plugin["distribution"] else "in-process"
        contributes = "\n".join(f"{k}: {', '.join(v)}" for k, v in plugin["contributions"].items())
        errors = "\n".join(
            [f"[red]{e['stage']}: {e['error']}[/red]\n{e['hint']}" for e in plugin["errors"]]
            + [f"[yellow]conflict: {c}[/yellow]" for c in plugin["conflicts"]]
        )
        table.add_row(plugin["name"], origin, contributes or "-", errors or "-")
    Console(width=output_width(None), soft_wrap=False).print(table)


def _plugins(args: argparse.Namespace) -> int:
    data = _plugins_json()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_plugins(data)
    return 0


# ---------------------------------------------------------------------------------- report
def load_factory(spec: str) -> Callable[[], Any]:
    """``MODULE:FACTORY`` -> the callable; a name that does not resolve is a :class:`UsageError`."""
    import importlib

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"expected MODULE:FACTORY (e.g. hookpoints.examples:TinyGPT); got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if module_name != missing and not module_name.startswith(missing + "."):
            raise  # the module exists but something it imports does not: its traceback says where
        raise UsageError(
            f"cannot import {module_name!r}: no module named {missing!r}{_module_hint(missing)}"
        ) from None
    path = module_name
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            near = close_matches(part, names, n=3)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise UsageError(f"{path} has no attribute {part!r}{hint}")
        obj = getattr(obj, part)
        path = f"{path}.{part}"
    if not callable(obj):
        raise UsageError(f"{spec} is a {type(obj).__name__}, not a callable returning a model")
    required = _required_parameters(obj)
    if required:
        raise UsageError(
            f"{spec} needs arguments ({', '.join(required)}); give a factory that takes none "
            "(e.g. a function in your own module that builds the model)"
        )
    return obj  # type: ignore[no-any-return]


def _required_parameters(fn: Callable[..., Any]) -> list[str]:
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _module_hint(missing: str) -> str:
    import pkgutil

    top = missing.split(".")[0]
    if "." in missing:
        return ""
    near = close_matches(top, [m.name for m in pkgutil.iter_modules()], n=3)
    return (
        f"; did you mean {', '.join(repr(n) for n in near)}?"
        if near
        else " (is it installed, or on PYTHONPATH?)"
    )


def _model_from(factory: Callable[[], Any], spec: str) -> Any:
    from torch import nn

    model = factory()  # an error in the user's factory keeps its traceback
    if hasattr(model, "hook_dict"):
        return model
    if isinstance(model, nn.Module):
        from .attached import attach

        print(
            f"hookpoints report: {spec} returned a {type(model).__name__} without hook points; "
            "reporting on attach(model)",
            file=sys.stderr,
        )
        return attach(model)
    raise UsageError(f"{spec} returned {type(model).__name__}; expected a torch.nn.Module")


def _input_value(expression: str) -> Any:
    import torch

    try:
        return eval(expression, {"torch": torch})  # the user's own expression, on their machine
    except (SyntaxError, NameError, TypeError, ValueError) as exc:
        raise UsageError(f"--input {expression!r}: {type(exc).__name__}: {exc}") from None


def _reporter(name: str | None) -> tuple[Any, str]:
    from .registries import REPORTERS

    reporter = REPORTERS.create(name)  # unknown names raise with close matches
    return reporter, name or REPORTERS.default().name


def _check_output(output: str | None) -> None:
    """Refuse an unusable ``--output`` before any work starts."""
    if output is None:
        return
    from pathlib import Path

    path = Path(output)
    if path.is_dir():
        raise UsageError(f"--output {output!r} is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"--output {output!r}: folder {str(path.parent)!r} does not exist")


def _emit(text: str, output: str | None, command: str) -> None:
    if output is None:
        print(text)
        return
    from pathlib import Path

    path = Path(output)
    path.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    print(f"hookpoints {command}: wrote {path}", file=sys.stderr)


def _color(output: str | None) -> bool:
    return output is None and sys.stdout.isatty()


def _report(args: argparse.Namespace) -> int:
    width = output_width(args.width)
    _check_output(args.output)
    factory = load_factory(args.factory)  # every name is checked before the model is built
    reporter, reporter_name = _reporter(args.reporter)
    if args.svg and getattr(reporter, "export_svg", None) is None:
        raise UsageError(
            f"reporter {reporter_name!r} cannot export SVG; install hookpoints-rich and use --reporter rich"
        )
    model = _model_from(factory, args.factory)

    import torch

    from .reports.data import build_report
    from .reports.recording import record

    run = None
    if args.input is not None:
        value = _input_value(args.input)
        with torch.no_grad(), record(model) as run:
            model(*value) if isinstance(value, tuple) else model(value)
    data = build_report(model, run=run)
    from .registries import REPORTERS

    # a reporter that raises is a ContributionError naming it and its plugin (traceback kept)
    _emit(
        REPORTERS.render(reporter_name, data, width=width, color=_color(args.output)), args.output, "report"
    )
    if args.svg:
        print(f"hookpoints report: wrote {reporter.export_svg(data, args.svg, width=width)}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    width = output_width(args.width)
    _check_output(args.output)
    _, reporter_name = _reporter(args.reporter)
    from .demo import demo_parts

    narrative, report_text = demo_parts(
        layers=args.layers, head=args.head, reporter=reporter_name, width=width, color=_color(args.output)
    )
    print(narrative)
    _emit(report_text, args.output, "demo")
    return 0


_RUN: dict[str, Callable[[argparse.Namespace], int]] = {"demo": _demo, "plugins": _plugins, "report": _report}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "hookpoints"
    try:
        _check_command(argv)
        args = _parser().parse_args(argv)
        command = f"hookpoints {args.command}"
        return _RUN[args.command](args)
    except (UsageError, UnknownNameError, DuplicateNameError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
