"""The pure scoring domain: models, messages, engine and explanations.

Nothing in this package does I/O or reads the wall clock: time is always passed in, as
seconds since the Unix epoch (UTC, float). The live stream, the offline replay, the backtest
and the rescoring job all call the same functions, so for the same input they give the same
numbers (docs/scoring.md is the contract).
"""
