"""A free TCP port on the loopback interface (``sandbox.ports``, shared with the benchmarks)."""

from sandbox.ports import free_port

__all__ = ["free_port"]
