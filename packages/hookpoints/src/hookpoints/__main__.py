"""``python -m hookpoints``: command-line entry point."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hookpoints", description="hookpoints command line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="cache, patch and report on the embedded TinyGPT model")
    demo.add_argument("--layers", type=int, default=2)
    demo.add_argument("--head", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        print(run_demo(layers=args.layers, head=args.head))
    return 0


if __name__ == "__main__":
    sys.exit(main())
