"""`scorer model check`: validate model files and print a summary of each model."""

from __future__ import annotations

import argparse

from scoring.summary import describe_model
from streams.cli.models import load_models_or_exit


def run(args: argparse.Namespace) -> int:
    models = load_models_or_exit(args.paths)
    print("\n\n".join(describe_model(model) for model in models))
    print(f"\n{len(models)} model(s) OK")
    return 0
