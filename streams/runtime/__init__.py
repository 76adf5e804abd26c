"""The live worker, one responsibility per module.

- `worker`: the faust agents, timers and signals, wired to the parts below (thin)
- `app`: the faust application and its fetch loop; `batching`: how batches are taken
- `topics`: topic names and configs, the worker's faust topics, an account's partition
- `messages`: raw messages in, outbox entries out (score changes, dead letters, re-routes)
- `pipeline`: the steps of one batch (events, profiles, decay sweep, rescoring) and its commit
- `accounts`: accounts' fields in the store, read into states and packed into commits
- `state_cache`: decoded states kept between batches
- `publishing`: sending the outbox to Kafka; `hints`: offset commits to Kafka
- `ownership`: fences, generations and a lock per partition
- `retry`: what an outage is, and the one retry policy through it
- `sweep`, `rescoring`, `gauges`: the worker's background work
- `http`: the HTTP API; `metrics`: the Prometheus metrics
- `kafka_admin`: topic creation and look-ups; `processes`: process-wide settings and exits
"""
