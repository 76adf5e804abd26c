"""`scorer`: the project's one command line. Every subcommand has `--help`.

This module only builds the parser and dispatches: each command runs in its own module of
`streams.cli`, imported when it runs, so that `--help` and the offline commands do not load
the Kafka and Redis clients.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from scoring.timefmt import InvalidTimestamp, parse_rfc3339


def rfc3339(text: str) -> float:
    try:
        return parse_rfc3339(text)
    except InvalidTimestamp as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scorer",
        description="Real-time B2B account scoring: Kafka events in, explainable scores out.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser(
        "worker",
        help="run a stream worker (settings from the environment: KAFKA_BOOTSTRAP, REDIS_URL, ...)",
        description="Run a faust worker of the scorer app with the settings of the environment.",
    )
    worker.add_argument(
        "--loglevel", choices=["debug", "info", "warning", "error"], help="default: LOG_LEVEL"
    )
    worker.set_defaults(command_module="worker")

    model = commands.add_parser("model", help="work with model files", description="Model files.")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="COMMAND")
    check = model_commands.add_parser(
        "check",
        help="validate model files and summarise them",
        description="Validate model files (or directories of *.yaml) and print a summary per "
        "model; on errors print one line per broken rule (file: place: rule) and exit 1.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="model file or directory")
    check.set_defaults(command_module="model_check")

    replay = commands.add_parser(
        "replay",
        help="score JSON-lines files offline, exactly as the stream would",
        description="Apply profiles (first, in file order) then events (in file order) to every "
        "model and write each account's scores. Bad lines, and events more than ALLOWED_LATENESS "
        "before their account's clock (too_late), are reported on stderr and skipped.",
    )
    replay.add_argument(
        "--models", nargs="+", required=True, metavar="PATH", help="model files or directories"
    )
    replay.add_argument(
        "--profiles", type=existing_file, metavar="FILE", help="profiles, JSON lines"
    )
    replay.add_argument(
        "--events", type=existing_file, required=True, metavar="FILE", help="events, JSON lines"
    )
    replay.add_argument(
        "--as-of",
        type=rfc3339,
        metavar="TIME",
        help="evaluate every account at the later of TIME (RFC 3339) and its clock at the end",
    )
    replay.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FILE",
        help="scores, one JSON line per account and model",
    )
    replay.add_argument(
        "--changes", type=Path, metavar="FILE", help="tier changes, JSON lines, in order"
    )
    replay.add_argument(
        "--rejects",
        type=Path,
        metavar="FILE",
        help="every refused line (bad, or beyond ALLOWED_LATENESS: too_late), JSON lines of "
        "file, line, code and detail",
    )
    replay.set_defaults(command_module="replay")

    produce = commands.add_parser(
        "produce",
        help="send JSON-lines profiles and/or events to the input topics",
        description="Send JSON lines to the topics, keyed right: profiles by account_id, events "
        "by account_id or else domain. Profiles go first when both are given.",
    )
    produce.add_argument("--events", type=existing_file, metavar="FILE", help="events, JSON lines")
    produce.add_argument(
        "--profiles", type=existing_file, metavar="FILE", help="profiles, JSON lines"
    )
    produce.set_defaults(command_module="produce")

    export = commands.add_parser(
        "export",
        help="write every account's scores from Redis as JSON lines",
        description="Every account's scores from Redis, in the line format of `replay --out`.",
    )
    export.add_argument("--models", nargs="+", metavar="PATH", help="default: MODELS_DIR")
    export.add_argument(
        "--as-of",
        type=rfc3339,
        metavar="TIME",
        help="evaluate each account at the later of TIME (RFC 3339) and its clock",
    )
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.set_defaults(command_module="export")

    changes = commands.add_parser(
        "changes",
        help="copy the score-change topic to JSON lines",
        description="Read the score-change topic from its start and write each message as a "
        "JSON line; stop after --idle seconds without a message.",
    )
    changes.add_argument("--out", type=Path, required=True, metavar="FILE")
    changes.add_argument("--idle", type=float, default=5.0, metavar="SECONDS")
    changes.set_defaults(command_module="changes")

    demo = commands.add_parser(
        "demo",
        help="the live pipeline end to end on the local stack (`make demo`)",
        description="Start a worker, produce a simulated market, print each tier change live, "
        "then the top accounts, and stop. Needs Kafka and Redis (`make up`).",
    )
    demo.add_argument("--accounts", type=int, default=300)
    demo.add_argument("--events", type=int, default=20_000)
    demo.add_argument(
        "--name", help="prefix of the run's topics and keys (default: demo-<UTC time>)"
    )
    demo.set_defaults(command_module="demo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = importlib.import_module(f"streams.cli.{args.command_module}")
    try:
        return int(command.run(args))
    except ValidationError as err:
        # Only the messages: the input (the environment) may hold secrets.
        for problem in err.errors():
            place = ".".join(str(part) for part in problem["loc"]).upper() or "settings"
            print(f"scorer: {place}: {problem['msg']}", file=sys.stderr)
        return 2
