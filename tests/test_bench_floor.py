"""The floor the import bench prints for the FiNESS+ flow, (g), must read the whole flow: a floor
that stopped early or skipped the fast cut's batches would flatter every ratio printed beside it."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ingest.py"


def _flow(entities: int) -> bytes:
    """A flow of ``entities`` legal entities, large enough for the fast cut to take over after
    the first batch (about 1.5 MB)."""
    items = [
        {"informationsGeneralesPMEJ": {"pmSmsseId": str(i), "denominationPm": f"ENTITÉ {i}"},
         "evenement": [{"evenementId": str(i), "codeEvenement": "01"}] * 3,
         "ege": [{"informationsGeneralesEGE": {"egeId": str(i)}, "etatObjet": "A"}]}
        for i in range(entities)
    ]  # fmt: skip
    return json.dumps({"generatedAt": "2026-11-01T03:12:00Z", "pmej": items, "gco": []}).encode()


@pytest.mark.parametrize("packed", [False, True], ids=["json", "json.gz"])
def test_the_floor_of_the_flow_parses_every_legal_entity(tmp_path, packed):
    data = _flow(5000)
    path = tmp_path / ("flow.json.gz" if packed else "flow.json")
    path.write_bytes(gzip.compress(data) if packed else data)
    done = subprocess.run(
        [sys.executable, str(BENCH), "--step", "plus_floor", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout)["items"] == 5000
