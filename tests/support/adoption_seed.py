"""A small, hand-checkable adoption dataset (``db_with_small_adoption``) shared by the
dashboard, export and service tests. Expected figures are worked out in the comments.

Snapshots: 1 = FINESS (01/10/2026), 2 = directory 15/10/2026, 3 = directory 15/11/2026.
ESMS: Isère (38) E1 EHPAD, E2 SSIAD (same EJ as E1), E3 EHPAD; Rhône (69) E4 IME, E5 EHPAD;
Paris (75) E6 EHPAD; plus a pharmacy (69, not médico-social).
At snapshot 3: E1 (m1 ORG, m2 PER, m3 APP by EJ), E2 (m3 by EJ), E5 (m5 now CAB), E6 (m8) are
equipped; E3 never; E4 lost m4. Région 84 (38+69): 5 ESMS, 3 equipped = 60,0 % (80,0 % at 2).
Created 2 -> 3: m2 (38, EHPAD), m7 (69, no structure); removed: m4 (69, IME); m5 changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, update

from balise.models import AdoptionStat, Establishment, Mailbox, Snapshot

SNAPSHOTS = [
    {"id": i, "source": src, "generated_at": when, "departments": "38,69,75"}
    for i, src, when in (
        (1, "finess", datetime(2026, 10, 1)),
        (2, "annuaire", datetime(2026, 10, 15)),
        (3, "annuaire", datetime(2026, 11, 15)),
    )
]

# finess_et, finess_ej, name, city, commune, department, category, medico-social
ESTABLISHMENTS = [
    ("380000001", "380000100", "EHPAD Les Tilleuls", "GRENOBLE", "38185", "38", "500", True),
    ("380000002", "380000100", "SSIAD du Grésivaudan", "CROLLES", "38140", "38", "354", True),
    (
        "380000003",
        "380000300",
        '=HYPERLINK("http://x") EHPAD Le Chêne',
        "VOIRON",
        "38563",
        "38",
        "500",
        True,
    ),
    ("690000001", "690000100", "IME Les Cèdres", "LYON", "69123", "69", "183", True),
    ("690000002", "690000200", "EHPAD Bellecour", "LYON", "69123", "69", "500", True),
    ("690000009", "690000900", "Pharmacie du Rhône", "LYON", "69123", "69", "620", False),
    ("750000001", "750000100", "EHPAD Montmartre", "PARIS", "75118", "75", "500", True),
]

# id, address, type, department, structure id, link kind, first_seen, valid_from, valid_to
MAILBOXES = [
    (1, "accueil@tilleuls.mssante.fr", "ORG", "38", "380000001", "ET", 2, 2, None),
    (2, "jean.martin@medecin.mssante.fr", "PER", "38", "380000001", "ET", 3, 3, None),
    (3, "dpi@asso-grenoble.mssante.fr", "APP", "38", "380000100", "EJ", 2, 2, None),
    (4, "secretariat@ime-cedres.mssante.fr", "ORG", "69", "690000001", "ET", 2, 2, 3),
    (5, "direction@bellecour.mssante.fr", "ORG", "69", "690000002", "ET", 2, 2, 3),
    (6, "direction@bellecour.mssante.fr", "CAB", "69", "690000002", "ET", 2, 3, None),
    (7, "officine@pharmacie-rhone.mssante.fr", "ORG", "69", "690000009", "ET", 2, 2, None),
    (8, "libre@exemple.mssante.fr", "PER", "69", None, None, 3, 3, None),
    (9, "soins@montmartre.mssante.fr", "ORG", "75", "750000001", "ET", 2, 2, None),
]

# snapshot, department, category, structures, equipped, per, org, app, cab
STATS = [
    (2, "38", "500", 2, 1, 0, 1, 1, 0),
    (2, "38", "354", 1, 1, 0, 0, 1, 0),
    (2, "69", "183", 1, 1, 0, 1, 0, 0),
    (2, "69", "500", 1, 1, 0, 1, 0, 0),
    (2, "75", "500", 1, 1, 0, 1, 0, 0),
    (3, "38", "500", 2, 1, 1, 1, 1, 0),
    (3, "38", "354", 1, 1, 0, 0, 1, 0),
    (3, "69", "183", 1, 0, 0, 0, 0, 0),
    (3, "69", "500", 1, 1, 0, 0, 0, 1),
    (3, "75", "500", 1, 1, 0, 1, 0, 0),
]


def _rows(keys: str, tuples: list[tuple], **extra) -> list[dict]:
    return [{**dict(zip(keys.split(), t, strict=True)), **extra} for t in tuples]


def seed_small_adoption(engine: Engine, demo: bool = False) -> None:
    """Insert the dataset above into an empty store."""
    snapshots = [
        {**s, "file_name": f"{s['source']}-{s['id']}.txt", "sha256": "0" * 64,
         "ingested_at": s["generated_at"], "is_demo": demo}
        for s in SNAPSHOTS
    ]  # fmt: skip
    establishments = _rows(
        "finess_et finess_ej name city commune_code department category_code is_medico_social",
        ESTABLISHMENTS, snapshot_id=1, address="1 RUE DE LA PAIX",
    )  # fmt: skip
    for row in establishments:
        row["postcode"] = row["commune_code"]
    mailboxes = _rows(
        "id address bal_type department structure_id link_kind first_seen valid_from valid_to",
        MAILBOXES,
    )
    stats = _rows(
        "snapshot_id department category_code structures equipped mailboxes_per mailboxes_org "
        "mailboxes_app mailboxes_cab",
        STATS,
    )
    with engine.begin() as conn:
        conn.execute(insert(Snapshot), snapshots)
        conn.execute(insert(Establishment), establishments)
        conn.execute(insert(Mailbox), mailboxes)
        conn.execute(insert(AdoptionStat), stats)


# finess_et -> (latitude, longitude) for the map (FiNESS+ coordinates): E2 has none; E4's are
# reversed (latitude 4.84: outside France, never drawn); the pharmacy is no ESMS.
COORDINATES = {
    "380000001": (45.1885, 5.7245),  # Grenoble
    "380000003": (45.3640, 5.5900),  # Voiron
    "690000001": (4.8357, 45.7640),  # Lyon, latitude and longitude reversed
    "690000002": (45.7578, 4.8320),  # Lyon
    "690000009": (45.7600, 4.8400),
    "750000001": (48.8867, 2.3431),  # Paris
}


def seed_coordinates(engine: Engine) -> None:
    """Give the small store's establishments the points of ``COORDINATES``."""
    with engine.begin() as conn:
        for finess, (lat, lon) in COORDINATES.items():
            conn.execute(
                update(Establishment).where(Establishment.finess_et == finess)
                .values(latitude=lat, longitude=lon)
            )  # fmt: skip
