"""``python -m modelbuild [OUT]``: build the default models into OUT (``models/``)."""

from __future__ import annotations

import sys
from pathlib import Path

from modelbuild.build import DEFAULT_OUT, build


def main(argv: list[str]) -> int:
    """Build into the folder named by the only argument, or models/ at the project root."""
    if len(argv) > 1:
        print("usage: python -m modelbuild [OUT]", file=sys.stderr)
        return 2
    build(Path(argv[0]) if argv else DEFAULT_OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
