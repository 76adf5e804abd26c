"""`scorer replay`: score JSON-lines files offline (`streams.offline.replay`)."""

from __future__ import annotations

import argparse
import sys

from streams.cli.models import load_models_or_exit
from streams.offline.replay import run_replay
from streams.settings import Settings


def run(args: argparse.Namespace) -> int:
    models = load_models_or_exit(args.models)
    settings = Settings()
    summary = run_replay(
        models,
        events=args.events,
        profiles=args.profiles,
        as_of=args.as_of,
        out=args.out,
        changes=args.changes,
        rejects=args.rejects,
        errors=sys.stderr,
        # the worker's DEDUPE_WINDOW and ALLOWED_LATENESS, so that replay and live agree on
        # repeats and on late events
        dedupe_window=settings.dedupe_window,
        allowed_lateness=settings.allowed_lateness,
    )
    print(summary.line(), file=sys.stderr)
    return 0
