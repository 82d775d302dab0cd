"""Department boundaries for the map, and the tile-grid cartogram used when there are none.

The boundary file is a setting (``BALISE_GEOJSON``): a path, or an https URL downloaded once into
``<data_dir>/cache/`` with its sha256 written beside it. By default it is a public file pinned to one
commit, whose SHA-256 is checked (``Settings.expected_geojson_sha256``): a copy that differs is
refused, never drawn. Any failure (empty setting, unreachable URL, wrong checksum, unreadable file)
yields None and the dashboard draws the cartogram: never an empty box, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import urllib.request
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pandas as pd

from balise.config import DEFAULT_DATA_DIR, Settings
from balise.referentials.departments import department_name

log = logging.getLogger(__name__)
TILEGRID = DEFAULT_DATA_DIR / "tilegrid_departements.csv"


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _fetch(url: str, ca_bundle: str, expected_sha256: str) -> bytes:
    context = ssl.create_default_context(cafile=ca_bundle or None)
    with urllib.request.urlopen(url, timeout=15, context=context) as resp:
        body = resp.read()
    if expected_sha256 and _sha256(body) != expected_sha256:
        raise ValueError(f"sha256 {_sha256(body)} where {expected_sha256} was expected")
    return body


def _download(url: str, cache_dir: Path, ca_bundle: str, expected_sha256: str = "") -> Path:
    """The cached copy of ``url``, downloading it the first time only (and again if the cached
    copy no longer has the expected checksum)."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    target = cache_dir / f"geojson-{key}.geojson"
    if target.exists() and (not expected_sha256 or _sha256(target.read_bytes()) == expected_sha256):
        return target
    body = _fetch(url, ca_bundle, expected_sha256)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(body)
    tmp.replace(target)
    meta = {
        "url": url,
        "sha256": _sha256(body),
        "bytes": len(body),
        "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    target.with_suffix(".json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    log.info("boundary file %s cached as %s (sha256 %s)", url, target, meta["sha256"])
    return target


def boundary_path(settings: Settings) -> Path | None:
    """Where the configured boundary file is on disk, or None (not set, or not reachable)."""
    source = settings.geojson.strip()
    if not source:
        return None
    try:
        if source.startswith(("http://", "https://")):
            return _download(
                source,
                settings.data_dir / "cache",
                settings.ca_bundle,
                settings.expected_geojson_sha256(),
            )
    except (OSError, ValueError) as exc:
        log.warning("boundary file %s unreachable (%s): drawing the tile grid", source, exc)
        return None
    path = Path(source)
    return path if path.is_file() else None


@cache
def _read(path: Path, mtime: float) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        codes = [f["properties"]["code"] for f in data["features"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("boundary file %s unreadable (%s): drawing the tile grid", path, exc)
        return None
    return data if codes else None


def boundaries(settings: Settings) -> dict | None:
    """The GeoJSON FeatureCollection (features carry ``properties.code``), or None."""
    path = boundary_path(settings)
    return _read(path, path.stat().st_mtime) if path else None


def tile_grid(path: Path = TILEGRID) -> pd.DataFrame:
    """Cartogram positions: code, name, row (0 = north), col (0 = west)."""
    df = pd.read_csv(path, dtype={"code": str, "row": int, "col": int})
    df["name"] = df["code"].map(department_name)
    return df
