"""The I/O edge: the faust app, Kafka topics, Redis state, HTTP, metrics and the CLI."""
