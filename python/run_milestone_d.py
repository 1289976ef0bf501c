#!/usr/bin/env python3
"""The Milestone D run as a script: the same as ``lifthouse run`` (see docs/running.md).

    python python/run_milestone_d.py --run_id milestone_d_v1 \
        --start_date 2025-01-01 --end_date 2025-03-01 [--symbols BTC,ETH,SOL] [--ingest|--generate]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works without `pip install -e .`

from lifthouse.run.command import add_run_arguments, run_run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_milestone_d.py", description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    return run_run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
