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
    from streams.offline.replay import run_replay

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


def cmd_produce(args: argparse.Namespace) -> int:
    import asyncio

    from streams.cli.tools import produce
    from streams.settings import Settings

    settings = Settings()
    for path, kind in ((args.profiles, "profiles"), (args.events, "events")):
        if path is not None:
            summary = asyncio.run(produce(settings, path, kind, sys.stderr))
            print(summary.line(kind), file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import asyncio

    from streams.cli.tools import export
    from streams.settings import Settings

    settings = Settings()
    models = load_models_or_exit(args.models or [str(settings.models_dir)])
    accounts = asyncio.run(export(settings, models, args.out, args.as_of))
    print(f"export: {accounts:,} accounts written to {args.out}", file=sys.stderr)
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    import asyncio

    from streams.cli.tools import changes
    from streams.settings import Settings

    count = asyncio.run(changes(Settings(), args.out, args.idle))
    print(f"changes: {count:,} score changes written to {args.out}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.cli.demo import main as demo

    return demo(accounts=args.accounts, events=args.events, name=args.name)


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    from streams.runtime.kafka_admin import ensure_topics
    from streams.runtime.processes import EventLoopUnavailable, collect_rarely, use_event_loop
    from streams.runtime.worker import Worker, topic_configs
    from streams.settings import Settings

    settings = Settings()
    try:
        use_event_loop(settings.event_loop)
    except EventLoopUnavailable as err:
        print(f"scorer worker: {err}", file=sys.stderr)
        return 1
    worker = Worker(settings, load_models_or_exit([str(settings.models_dir)]))
    try:
        asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap,
                topic_configs(settings),
                settings.topic_partitions,
                settings.topic_replication_factor,
            )
        )
    except (OSError, TimeoutError, RuntimeError) as err:
        host, port = settings.kafka_endpoint()
        print(
            f"scorer worker: cannot prepare the topics on Kafka at {host}:{port} ({err}). "
            "Is Kafka running (`make up`), and is KAFKA_BOOTSTRAP right?",
            file=sys.stderr,
        )
        return 1
    level = args.loglevel or settings.log_level
    # faust's own command line (click) reads sys.argv: hand it the worker command, in its
    # spelling of the level.
    sys.argv = ["scorer", "worker", "--loglevel", {"warning": "warn"}.get(level, level)]
    collect_rarely()  # the state cache keeps up to STATE_CACHE_ACCOUNTS accounts alive
    worker.app.main()
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
    worker.add_argument(
        "--loglevel", choices=["debug", "info", "warning", "error"], help="default: LOG_LEVEL"
    )
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
    produce.set_defaults(run=cmd_produce)

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
    export.set_defaults(run=cmd_export)

    changes = commands.add_parser(
        "changes",
        help="copy the score-change topic to JSON lines",
        description="Read the score-change topic from its start and write each message as a "
        "JSON line; stop after --idle seconds without a message.",
    )
    changes.add_argument("--out", type=Path, required=True, metavar="FILE")
    changes.add_argument("--idle", type=float, default=5.0, metavar="SECONDS")
    changes.set_defaults(run=cmd_changes)

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
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))
