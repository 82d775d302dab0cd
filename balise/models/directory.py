"""The national directories as imported: the MSSanté directory's mailboxes (one row per version)
and the FINESS structures (establishments, legal entities, inactive establishments, groupings).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Float, ForeignKey, Index, Integer, String, Table

from balise.models.schema import coded, metadata
from balise.referentials.lifecycles import LinkKind

# One version of a directory mailbox (slowly changing dimension, type 2).
#
# A version is valid from the snapshot that first showed it in this form (``valid_from``) until
# the snapshot that removed or changed it (``valid_to``, exclusive; NULL = current). The address
# is the only key the ANS file carries; ``first_seen`` is carried over from version to version.
mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(255), nullable=False),
    Column("bal_type", String(3), nullable=False),  # PER | ORG | APP | CAB
    Column("department", String(3), nullable=False),
    Column("structure_id_type", String(2)),
    Column("structure_id", String(20)),
    # Which FINESS number the structure id matched (none: the line equips no structure).
    Column("link_kind", coded(LinkKind, 2)),
    Column("service", String(255)),
    Column("profession_code", String(8)),
    Column("structure_name", String(255)),
    Column("postcode", String(10)),
    # Column « Dématérialisation » of the directory: "O" | "N" | NULL (absent or other value).
    Column("dematerialisation", String(1)),
    Column("first_seen", Integer, ForeignKey("snapshots.id"), nullable=False),
    Column("valid_from", Integer, ForeignKey("snapshots.id"), nullable=False),
    Column("valid_to", Integer, ForeignKey("snapshots.id")),
    # Address first: the diff looks every staged address up (an index led by valid_to
    # tempts SQLite into scanning every current row for each lookup).
    Index("ix_mailboxes_address", "address", "valid_to"),
    Index("ix_mailboxes_department", "department", "valid_to", "bal_type"),
    Index("ix_mailboxes_structure", "structure_id", "valid_to"),
)


# A FINESS establishment (ET) as in the latest FINESS snapshot of its department.
establishments = Table(
    "establishments",
    metadata,
    Column("finess_et", String(9), primary_key=True),
    Column("finess_ej", String(9), index=True),
    Column("name", String(255), nullable=False),
    Column("long_name", String(255)),
    Column("address", String(255)),
    Column("postcode", String(10)),
    Column("city", String(128)),
    Column("commune_code", String(5)),
    Column("department", String(3), nullable=False),
    Column("category_code", String(4), nullable=False),
    Column("category_label", String(255)),
    Column("siret", String(14)),
    Column("opened_on", Date),
    Column("is_medico_social", Boolean, nullable=False, default=False),
    Column("luhn_ok", Boolean, nullable=False, default=True),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
    # FiNESS+ only: WGS 84 point checked against the territory (never a point in another
    # territory), and the flow's technical id, which groupings refer to.
    Column("latitude", Float),
    Column("longitude", Float),
    Column("ege_id", String(20)),
    Index("ix_establishments_dept_cat", "department", "is_medico_social", "category_code"),
)


# A FINESS legal entity (EJ, FiNESS+ ``pmej``) as in the latest FiNESS+ ingest.
legal_entities = Table(
    "legal_entities",
    metadata,
    Column("finess_ej", String(9), primary_key=True),
    Column("pm_id", String(20), index=True),  # pmSmsseId
    Column("siren", String(9)),
    Column("legal_status", String(4)),  # statutJuridique (TRE-R400)
    Column("name", String(255), nullable=False),
    Column("long_name", String(255)),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("closed_on", Date),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
)


# A closed or inactive establishment of the FiNESS+ flow, kept apart from
# ``establishments`` (which every count and link reads) so that it is never counted.
inactive_establishments = Table(
    "inactive_establishments",
    metadata,
    Column("finess_et", String(9), primary_key=True),
    Column("finess_ej", String(9)),
    Column("name", String(255), nullable=False),
    Column("department", String(3), nullable=False, index=True),
    Column("category_code", String(4), nullable=False),
    Column("closed_on", Date),
    Column("ege_id", String(20)),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
)


# A FiNESS+ grouping: ``gcc`` (conventional, e.g. a GHT) or ``gco`` (cooperation, itself a
# legal entity whose ``pm_id`` is given).
finess_groups = Table(
    "finess_groups",
    metadata,
    Column("group_id", String(40), primary_key=True),  # "gcc:12", "gco:1001"
    Column("kind", String(3), nullable=False),
    Column("group_type", String(16)),
    Column("name", String(255)),
    Column("pm_id", String(20)),
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), nullable=False),
)


# A member of a grouping: a legal entity (``pm_id``) or an establishment (``ege_id``),
# by the flow's technical ids (``legal_entities.pm_id``, ``establishments.ege_id``).
finess_group_members = Table(
    "finess_group_members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", String(40), nullable=False, index=True),
    Column("pm_id", String(20), index=True),
    Column("ege_id", String(20)),
    Column("role", String(8)),  # typeRoleEntiteGroupe: S support, M
)
