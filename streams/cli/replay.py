"""`scorer replay`: score JSON-lines files offline (`streams.offline.replay`)."""

from __future__ import annotations

import argparse
import sys

from streams.cli.models import load_models_or_exit
from streams.offline.replay import run_replay
from streams.settings import Settings


def run(args: argparse.Namespace) -> int:
    models = load_models_or_exit(args.models)
    summary = run_replay(
        models,
        events=args.events,
        profiles=args.profiles,
        as_of=args.as_of,
        out=args.out,
        changes=args.changes,
        errors=sys.stderr,
        # the worker's window (DEDUPE_WINDOW), so that replay and live agree on repeats
        dedupe_window=Settings().dedupe_window,
    )
    print(summary.line(), file=sys.stderr)
    return 0
