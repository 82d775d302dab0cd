"""Arrow set up for ingests, once per process, on import (before any thread starts and before
the first Arrow array is built): lean allocators, and no pandas.

- Allocators: jemalloc gives freed blocks back where mimalloc (Arrow's default) keeps
  per-thread caches (about 60 MB less peak memory on the national files, at the same speed).
  glibc's malloc is set in ``ingest/__init__.py``.
- pandas: the first ``pa.array`` (or ``pa.scalar``, ``pa.repeat``) of a process imports pandas,
  to tell whether its input is a pandas object. The ingests never hand pandas objects to Arrow,
  and that import costs every ``balise ingest`` command 0.3 to 0.5 s. So pyarrow is left to
  find pandas absent on that first look; it asks again (and finds it) the day someone converts
  to or from pandas with ``to_pandas``/``from_pandas``. A process that already loaded pandas
  (the dashboard) keeps the usual behaviour.
"""

from __future__ import annotations

import sys

import pyarrow as pa


def _lean_allocators() -> None:
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # an Arrow build without jemalloc
        pa.set_memory_pool(pa.system_memory_pool())


class _PandasAbsent:
    """An import hook under which ``import pandas`` fails (pandas is not in ``sys.modules``)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _arrow_without_pandas() -> None:
    if "pandas" in sys.modules:
        return
    hook = _PandasAbsent()
    sys.meta_path.insert(0, hook)
    try:
        pa.array([0])  # pyarrow looks for pandas once, here, and remembers
    finally:
        sys.meta_path.remove(hook)


_lean_allocators()
_arrow_without_pandas()
