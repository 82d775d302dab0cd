"""A free TCP port on the loopback interface (the sandbox's helper, shared)."""

from balise.mail.sandbox import free_port

__all__ = ["free_port"]
