"""The live worker: the faust app, batching, the pipeline steps, ownership, publishing,
HTTP and metrics."""
