"""Settings, read from ``BALISE_*`` environment variables and an optional TOML file.

Order of precedence: explicit arguments (CLI options) > environment > TOML file (``BALISE_CONFIG``)
> defaults. Secrets never live here in clear: only the *name* of where to find them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from balise.errors import ConfigurationError
from balise.referentials.lifecycles import DataSource

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"

# The map's default boundary file: the simplified metropolitan departments of the public repository
# gregoiredavid/france-geojson (IGN Admin Express COG 2018, Licence Ouverte / Etalab), pinned to one
# commit and checked against its SHA-256 before use. Set BALISE_GEOJSON empty for the offline tile map.
DEFAULT_GEOJSON_URL = (
    "https://raw.githubusercontent.com/gregoiredavid/france-geojson/"
    "5d34ee6d0140c29f785fdb047d9329f1aab58833/departements-version-simplifiee.geojson"
)
DEFAULT_GEOJSON_SHA256 = "c08a1ad48299763b50ef649f05a911c1021500c94719a1aa22a9d06191e43fc3"

# The published sources, by the stable addresses of data.gouv.fr: ``/api/1/datasets/r/<resource>``
# redirects to the latest file of a resource (udata's ``resource_redirect`` endpoint). The
# directory: dataset ``annuaire-sante-extraction-des-bal-mssante``, refreshed daily (only the
# latest file is kept online), served by a public authority, uncompressed. FINESS: the daily
# « FINESS Structures » JSON flow of dataset ``finess-structures-1`` (gzip), whose resource id is
# the one public reusers cite; the legacy etalab CSV stopped being refreshed in May 2026.
DEFAULT_ANNUAIRE_URL = (
    "https://www.data.gouv.fr/api/1/datasets/r/afe01105-d9a1-41fe-921f-e40ea48b2ba6"
)
DEFAULT_FINESS_URL = (
    "https://www.data.gouv.fr/api/1/datasets/r/cd493959-fb03-41e5-9347-0edd14dfbc22"
)


@dataclass(frozen=True)
class Settings:
    database_url: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    # Default selection when a command names none: the ARA region.
    region: str = "84"
    departments: tuple[str, ...] = ()
    # Boundary file for the map (path or https URL); empty = offline tile-grid cartogram.
    geojson: str = DEFAULT_GEOJSON_URL
    # Expected SHA-256 of a downloaded boundary file; empty = the pinned one for the default URL,
    # none checked for another URL.
    geojson_sha256: str = ""
    # CA bundle for https downloads (the ANS server chains to IGC-Santé, not in public stores).
    ca_bundle: str = ""
    # Where ``balise ingest annuaire|finess`` without a file and the worker fetch each source;
    # empty = none (a file must then be given by hand).
    annuaire_url: str = DEFAULT_ANNUAIRE_URL
    finess_url: str = DEFAULT_FINESS_URL
    # A source that has not changed for this many days (or whose last check failed) is reported
    # by ``balise sources`` (exit 1) and by the Vue régionale.
    source_stale_days: int = 3
    # Every imported file is kept there, compressed, by source and date; None = ``data_dir /
    # "archive"``, "" = no archive.
    archive_dir: str | None = None
    # Fernet key (urlsafe base64, 32 bytes) that encrypts stored secrets.
    secret_key: str = ""
    allowed_domains: tuple[str, ...] = ()
    provision_backend: str = "request"
    # The Dovecot of the "dovecot" backend: its passwd-file (one file, or a path ending in %u
    # for one file per account) and its configuration file (empty: doveadm's default).
    dovecot_passwd_file: str = ""
    dovecot_config: str = ""
    demo: bool = False
    # How long audit lines are kept (``balise audit purge``), and where OIDC roles live.
    audit_retention_days: int = 400
    oidc_role_claim: str = "balise_role"
    oidc_departments_claim: str = "balise_departments"
    # The largest file a download (or the data file of a zip, inflated) may bring: a cap, so
    # that a wrong URL or a zip bomb cannot fill the disk.
    max_download_mb: int = 2048
    # The programme's indicator catalogues, one TOML file per campaign year.
    indicators_dir: Path = DEFAULT_DATA_DIR / "indicateurs"
    # How long a writer waits for the store's write lock (seconds), and the deletion
    # gate: an ingest closing more than this percentage of a department's current mailboxes or
    # establishments is refused without --accept-drop (see ingest/gate.py).
    lock_wait: float = 60.0
    max_drop: float = 5.0

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'balise.db'}"

    def resolved_archive_dir(self) -> Path | None:
        """Where imported files are archived, or None when the archive is off."""
        if self.archive_dir is None:
            return self.data_dir / "archive"
        return Path(self.archive_dir) if self.archive_dir.strip() else None

    def source_url(self, source: str) -> str:
        """The configured URL of ``annuaire`` or ``finess`` ("" = none)."""
        return (self.annuaire_url if source == DataSource.ANNUAIRE else self.finess_url).strip()

    def expected_geojson_sha256(self) -> str:
        if self.geojson_sha256:
            return self.geojson_sha256.strip().lower()
        return DEFAULT_GEOJSON_SHA256 if self.geojson.strip() == DEFAULT_GEOJSON_URL else ""


_TUPLES = {"departments", "allowed_domains"}
_PATHS = {"data_dir", "indicators_dir"}
# Decimal settings and their bounds (a decimal comma is accepted: « 2,5 »).
_NUMBERS = {"lock_wait": (0.0, 86400.0), "max_drop": (0.0, 100.0)}


def _coerce(name: str, value: object) -> object:
    if name in _TUPLES:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(str(v) for v in value)  # type: ignore[union-attr]
    if name in _PATHS:
        return Path(str(value))
    if name == "demo":
        return str(value).lower() in {"1", "true", "yes", "oui"}
    if name in _NUMBERS:
        return _number(name, value)
    if name == "audit_retention_days":
        try:
            return int(str(value))
        except ValueError as exc:
            raise ConfigurationError(
                f"BALISE_AUDIT_RETENTION_DAYS doit être un nombre de jours, pas « {value} »."
            ) from exc
    if name == "max_download_mb":
        return _positive_megabytes(value)
    if name == "source_stale_days":
        return _positive_days(value)
    return str(value)


def _positive_megabytes(value: object) -> int:
    """A size in MB, at least 1: a malformed or zero cap is refused rather than replaced."""
    return _at_least_one(value, "BALISE_MAX_DOWNLOAD_MB doit être un nombre entier de Mo")


def _positive_days(value: object) -> int:
    """A number of days, at least 1: a malformed threshold is refused rather than replaced."""
    return _at_least_one(value, "BALISE_SOURCE_STALE_DAYS doit être un nombre entier de jours")


def _at_least_one(value: object, what: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigurationError(f"{what} (1 au moins), pas « {value} ».")
    return number


def _number(name: str, value: object) -> float:
    low, high = _NUMBERS[name]
    try:
        number = float(str(value).replace(",", ".").strip())
    except ValueError:
        number = float("nan")
    if not low <= number <= high:  # also false for NaN
        raise ConfigurationError(
            f"BALISE_{name.upper()} doit être un nombre entre {low:g} et {high:g}, pas « {value} »."
        )
    return number


def _from_toml(path: str) -> dict[str, object]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh).get("balise", {})
    except FileNotFoundError as exc:
        raise ConfigurationError(f"Le fichier de configuration {path} est introuvable.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"Le fichier de configuration {path} est illisible : {exc}."
        ) from exc


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the TOML file, the environment, then ``overrides``."""
    values: dict[str, object] = {}
    if os.environ.get("BALISE_CONFIG"):
        values.update(_from_toml(os.environ["BALISE_CONFIG"]))
    for f in fields(Settings):
        env = os.environ.get(f"BALISE_{f.name.upper()}")
        if env is not None:
            values[f.name] = env
    values.update({k: v for k, v in overrides.items() if v not in (None, "", ())})
    unknown = set(values) - {f.name for f in fields(Settings)}
    if unknown:
        raise ConfigurationError(f"Réglages inconnus : {', '.join(sorted(unknown))}.")
    return Settings(**{k: _coerce(k, v) for k, v in values.items()})  # type: ignore[arg-type]
