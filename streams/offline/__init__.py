"""The scoring core over files, without Kafka or Redis: replay and the simulated market."""
