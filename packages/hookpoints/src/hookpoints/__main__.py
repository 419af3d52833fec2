"""``python -m hookpoints``: the command line (see :mod:`hookpoints.cli`)."""

from hookpoints.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
