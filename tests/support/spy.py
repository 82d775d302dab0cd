"""Recording what a function returned, to prove which code path a test went through."""

from __future__ import annotations


def spy(monkeypatch, owner: object, name: str) -> list:
    """Wrap ``owner.name`` for the test; returns the list its results are appended to."""
    results: list = []
    real = getattr(owner, name)

    def recording(*args, **kwargs):
        result = real(*args, **kwargs)
        results.append(result)
        return result

    monkeypatch.setattr(owner, name, recording)
    return results
