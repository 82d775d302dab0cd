"""``balise serve``: start the dashboard (Streamlit) on this machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from balise.cli import Context, pass_context
from balise.command_access import requires
from balise.processes import run_in_foreground

APP = Path(__file__).resolve().parent / "app.py"


@requires("admin")  # a server for everyone: the pages then ask each visitor to sign in
@click.command()
@click.option("--port", default=8501, show_default=True, help="Port d'écoute.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
@pass_context
def serve(ctx: Context, port: int, address: str) -> None:
    """Démarrer le tableau de bord."""
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
        "--server.address", address, "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    click.echo(f"Tableau de bord : http://{address}:{port}")
    # The page processes read the settings from the environment: pass on --database-url.
    env = {**os.environ, "BALISE_DATABASE_URL": ctx.settings.resolved_database_url()}
    # Stopping « balise serve » (SIGTERM, Ctrl+C) stops Streamlit too: the port is freed.
    raise SystemExit(run_in_foreground(cmd, env))
