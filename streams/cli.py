"""`scorer`: the project's one command line. Every subcommand has `--help`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scoring.errors import ModelError
from scoring.model import Model
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


def load_models_or_exit(paths: Sequence[str]) -> tuple[Model, ...]:
    from streams.model_files import load_model_files

    try:
        return load_model_files(paths)
    except ModelError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from err


def cmd_model_check(args: argparse.Namespace) -> int:
    from scoring.summary import describe_model

    models = load_models_or_exit(args.paths)
    print("\n\n".join(describe_model(model) for model in models))
    print(f"\n{len(models)} model(s) OK")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.replay import run_replay

    models = load_models_or_exit(args.models)
    summary = run_replay(
        models,
        events=args.events,
        profiles=args.profiles,
        as_of=args.as_of,
        out=args.out,
        changes=args.changes,
        errors=sys.stderr,
    )
    print(summary.line(), file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.app import create_app
    from streams.settings import Settings

    app = create_app(Settings())
    # faust's own command line (click) reads sys.argv: hand it the worker command.
    sys.argv = ["scorer", "worker", "--loglevel", args.loglevel]
    app.main()
    return 0


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
    worker.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    worker.set_defaults(run=cmd_worker)

    model = commands.add_parser("model", help="work with model files", description="Model files.")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="COMMAND")
    check = model_commands.add_parser(
        "check",
        help="validate model files and summarise them",
        description="Validate model files (or directories of *.yaml) and print a summary per "
        "model; on errors print one line per broken rule (file: place: rule) and exit 1.",
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="model file or directory")
    check.set_defaults(run=cmd_model_check)

    replay = commands.add_parser(
        "replay",
        help="score JSON-lines files offline, exactly as the stream would",
        description="Apply profiles (first, in file order) then events (in file order) to every "
        "model and write each account's scores. Bad lines are reported on stderr and skipped.",
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
    replay.set_defaults(run=cmd_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
