"""``python -m ingest.demo OUT_DIR [--national]``."""

from __future__ import annotations

from pathlib import Path

from ingest.demo import write_demo


def main(argv: list[str] | None = None) -> None:
    """``python -m ingest.demo OUT_DIR [--national]``: write the files and print how long it took
    (the generation time quoted in the README comes from here)."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Données de démonstration (fictives).")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--national", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    files = write_demo(args.out_dir, national=args.national, seed=args.seed)
    elapsed = time.perf_counter() - started
    for path in [*files.annuaire, files.finess, files.finess_json]:
        if path is None:
            continue
        size = f"{path.stat().st_size / 1e6:.1f} Mo"
        if path.suffix == ".gz":  # compressed: its lines mean nothing
            print(f"{path.name}: {size} (gzip)")
            continue
        with open(path, "rb") as fh:
            lines = sum(1 for _ in fh)
        print(f"{path.name}: {lines:,} lignes, {size}")
    print(f"Généré en {elapsed:.1f} s.")


if __name__ == "__main__":
    main()
