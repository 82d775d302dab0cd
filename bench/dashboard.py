"""Dashboard benchmark: every page's server-side run (Streamlit AppTest), cold and warm, and the
webinar xlsx export for the whole region, on national-scale demo data in a temporary SQLite store.

    .venv/bin/python bench/dashboard.py [--database-url URL] [--repeat N]

Without --database-url it runs ``balise demo --national`` into a temporary directory first.
Prints each figure with its ratio to the target (ratio <= 1 means the target is met):
pages <= 1.5 s cold and <= 0.3 s warm; export <= 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# AppTest runs without a server: silence Streamlit's "no runtime" warnings.
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")
sys.path.insert(0, str(ROOT))

TARGET_COLD_S = 1.5
TARGET_WARM_S = 0.3
TARGET_EXPORT_S = 5.0


def _balise(url: str, *args: str) -> None:
    cmd = [str(ROOT / ".venv/bin/balise"), "--database-url", url, *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _next_month(extract: Path, out_dir: Path) -> Path:
    """A later national extract: every 50th mailbox gone, every 40th joined by a new one, so
    that « Évolutions » compares two national-size snapshots."""
    out = out_dir / "Extraction_Correspondance_MSSante_209912010312.txt"
    with open(extract, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        dst.write(src.readline())
        for i, line in enumerate(src):
            if i % 50 != 0:
                dst.write(line)
            if i % 40 == 0:
                cells = line.split("|")
                cells[1] = "nouvelle." + cells[1]
                dst.write("|".join(cells))
    return out


def national_store(workdir: Path) -> str:
    url = f"sqlite:///{workdir / 'balise.db'}"
    files = workdir / "files"
    started = time.perf_counter()
    _balise(url, "demo", "--national", "--out", str(files))
    extract = next(files.glob("Extraction_Correspondance_MSSante_*.txt"))
    _balise(url, "ingest", "annuaire", str(_next_month(extract, workdir)), "--all")
    elapsed = time.perf_counter() - started
    print(f"national demo + a second directory snapshot loaded in {elapsed:.1f} s (not a target)")
    return url


def time_page(page: str, repeat: int) -> tuple[float, float]:
    """(cold, warm) seconds for one page: cold = empty caches, warm = median of reruns."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    if page != "views/regional.py":
        at.switch_page(page)
    started = time.perf_counter()
    at.run()
    cold = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].message}")
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
    return cold, statistics.median(warm) if warm else float("nan")


def time_export() -> tuple[float, int]:
    from balise.config import load_settings
    from balise.db import engine_for
    from balise.referentials.departments import region_departments
    from balise.services import pack
    from balise.services.access import SYSTEM

    settings = load_settings()
    engine = engine_for(settings.resolved_database_url())
    started = time.perf_counter()
    data = pack.build_pack(engine, SYSTEM, region_departments(settings.region))
    return time.perf_counter() - started, len(data)


def line(name: str, seconds: float, target: float) -> str:
    return f"{name:<32} {seconds:7.3f} s   target {target:4.1f} s   ratio {seconds / target:5.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an existing store (skips the national demo load)")
    parser.add_argument("--repeat", type=int, default=5, help="warm reruns per page (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="balise-bench-") as tmp:
        url = args.database_url or national_store(Path(tmp))
        os.environ["BALISE_DATABASE_URL"] = url
        os.environ.setdefault("BALISE_REGION", "84")
        from dashboard.navigation import PAGES

        # One untimed run pays Python's imports (streamlit, plotly, pandas), which a running
        # server pays once at start, not per page view.
        time_page("views/exports.py", 0)
        for spec in PAGES:
            try:
                cold, warm = time_page(spec.path, args.repeat)
            except Exception as exc:  # another team's page failing must not hide the others
                print(f"page {spec.title}: error {exc}")
                continue
            print(line(f"page {spec.title} (cold)", cold, TARGET_COLD_S))
            print(line(f"page {spec.title} (warm)", warm, TARGET_WARM_S))
        seconds, size = time_export()
        print(line(f"export xlsx région ({size // 1024} Kio)", seconds, TARGET_EXPORT_S))


if __name__ == "__main__":
    main()
