"""Mail: connections (IMAP/SMTP), the sandbox operator, round-trip tests, provisioning."""
