"""The ``lifthouse`` command: a thin dispatcher. Each subcommand lives in its own module, which
provides ``add_arguments(parser)`` and ``run(args) -> int``; it is imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

from lifthouse.data.schema import RawDataError

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("lifthouse.data.importer", "load local OHLCV / funding / OI / liquidation files into the raw layout"),
    "sample": ("lifthouse.data.sample.cli", "generate the embedded default market (synthetic, planted effects)"),
    "ingest": ("lifthouse.data.ingest.cli", "download Binance public-archive data into the raw layout"),
    "preflight": ("lifthouse.data.preflight", "check data coverage for a run window before building"),
    "run": ("lifthouse.run.command", "the Milestone D run: preflight, dbt build, exports, report"),
    "demo": ("lifthouse.run.command", "generate the sample market and run Milestone D on it"),
    "warehouse": ("lifthouse.run.warehouse_cli", "list or prune the stored data layers (disk use)"),
}


def build_parser() -> argparse.ArgumentParser:
    import lifthouse

    parser = argparse.ArgumentParser(prog="lifthouse", description=lifthouse.__doc__.strip())
    parser.add_argument("--version", action="version", version=f"lifthouse {lifthouse.__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a part not installed in this checkout
            if exc.name and module.startswith(exc.name):
                continue
            raise
        adder = getattr(mod, f"add_{name}_arguments", None) or mod.add_arguments
        adder(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    runner = getattr(module, f"run_{args.command}", None) or module.run
    try:
        return int(runner(args) or 0)
    except RawDataError as exc:
        print(f"lifthouse {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
