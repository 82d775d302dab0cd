"""Real components started by the tests (and the benchmarks): PostgreSQL, Dovecot..."""
