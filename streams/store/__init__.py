"""Account state in Redis: key names, the record layout, the fenced batch commit and the queries."""
