"""Mail: connections (IMAP/SMTP), round-trip tests, provisioning (the sandbox operator that
the tests and ``make run`` use is the separate ``sandbox`` package)."""
