"""Organismes gestionnaires: the FINESS legal entities (EJ) that run the ESMS, through which
funding and projects go. Per EJ (within the departments the actor reads): its ESMS, how many
are equipped, its BALs; and the « organismes à fort levier »: many ESMS, few equipped, one
equipped sibling already (thresholds in ``data/priorites.toml``, section [levier]).

The organisation's name (``ej_name``, its raison sociale) comes from the FiNESS+ flow's legal
entities (``legal_entities``); the legacy FINESS file gives none, and the name is then empty
(the EJ number and the names of its ESMS still say which it is). "Equipped" is
``balise.services.links``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, and_, case, func, select

from balise.errors import NotFoundError
from balise.models import Establishment, LegalEntity, Mailbox
from balise.referentials.bal_types import TYPE_COLUMNS
from balise.referentials.lifecycles import LinkKind
from balise.referentials.priority_weights import DEFAULT_FILE, load_weights
from balise.services.access import Actor, readable_departments
from balise.services.adoption import frame, type_counts
from balise.services.esms_facts import esms_in
from balise.services.links import is_equipped, links_to_establishment, valid_at

ORGANISATION_COLUMNS = ["finess_ej", "ej_name", "department", "esms", "equipped", "share", "esms_names",
                        *TYPE_COLUMNS, "mailboxes"]  # fmt: skip


def organisations(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """One row per EJ and department of the selection: ESMS, equipped, share (0-100), names of
    its ESMS, and its current BALs per type (an EJ-wide BAL counted once)."""
    departments = readable_departments(actor, departments)
    e = Establishment
    scope = (*esms_in(departments), e.finess_ej.is_not(None))
    equipped = func.sum(case((is_equipped(), 1), else_=0))
    counts = frame(
        engine,
        select(e.finess_ej, LegalEntity.name, e.department, func.count(), equipped)
        .outerjoin(LegalEntity, LegalEntity.finess_ej == e.finess_ej).where(*scope)
        .group_by(e.finess_ej, LegalEntity.name, e.department),
        ["finess_ej", "ej_name", "department", "esms", "equipped"],
    )  # fmt: skip
    mix = frame(
        engine,
        select(e.finess_ej, e.department, *type_counts())
        .join(Mailbox, and_(links_to_establishment(), valid_at(None))).where(*scope)
        .group_by(e.finess_ej, e.department),
        ["finess_ej", "department", *TYPE_COLUMNS],
    )  # fmt: skip
    names = frame(engine, select(e.finess_ej, e.department, e.name).where(*scope)
                  .order_by(e.name), ["finess_ej", "department", "name"])  # fmt: skip
    df = counts.merge(mix, on=["finess_ej", "department"], how="left")
    df = df.merge(_names(names), on=["finess_ej", "department"], how="left")
    df[TYPE_COLUMNS] = df[TYPE_COLUMNS].fillna(0).astype(int)
    df["equipped"] = df["equipped"].fillna(0).astype(int)
    df["mailboxes"] = df[TYPE_COLUMNS].sum(axis=1)
    df["share"] = 100.0 * df["equipped"] / df["esms"]
    df = df.sort_values(["department", "esms", "finess_ej"], ascending=[True, False, True])
    return df[ORGANISATION_COLUMNS].reset_index(drop=True)


def _names(names: pd.DataFrame, shown: int = 2) -> pd.DataFrame:
    """« EHPAD A, SSIAD B (+3) » per EJ and department."""

    def join(group: pd.Series) -> str:
        head = ", ".join(group.iloc[:shown])
        return head + (f" (+{len(group) - shown})" if len(group) > shown else "")

    out = names.groupby(["finess_ej", "department"])["name"].agg(join)
    return out.rename("esms_names").reset_index()


def high_leverage(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    weights_file: Path = DEFAULT_FILE,
) -> pd.DataFrame:
    """Organisations with at least ``esms_min`` ESMS, at most ``part_equipee_max`` % equipped
    and one equipped ESMS at least; most ESMS left to equip first, with ``to_equip``."""
    weights = load_weights(weights_file)
    df = organisations(engine, actor, departments)
    keep = (
        (df["esms"] >= weights.lever_min_esms)
        & (df["equipped"] >= 1)
        & (df["share"] <= weights.lever_max_share)
    )
    out = df[keep].assign(to_equip=lambda d: d["esms"] - d["equipped"])
    return out.sort_values(["to_equip", "finess_ej"], ascending=[False, True], ignore_index=True)


def organisation_esms(engine: Engine, actor: Actor, finess_ej: str) -> pd.DataFrame:
    """The ESMS of one EJ that the actor may read: identity, equipped, and their current BALs
    (addresses with type, « EJ » when the BAL names the legal entity)."""
    departments = readable_departments(actor, None)
    df = esms_with_bals(engine, (*esms_in(departments), Establishment.finess_ej == finess_ej))
    if df.empty:
        raise NotFoundError(f"Aucun ESMS lisible pour l'organisme gestionnaire FINESS {finess_ej}.")
    return df


def esms_with_bals(engine: Engine, scope: tuple) -> pd.DataFrame:
    """The ESMS of ``scope`` (conditions on ``establishments``): identity, their organisation
    (``finess_ej``, ``ej_name``), equipped, and ``bals``: their current BALs, « TYPE adresse »
    joined by « ; », « (EJ) » after a BAL that names the legal entity."""
    e = Establishment
    base = frame(
        engine,
        select(e.finess_et, e.name, e.city, e.department, e.category_code, e.finess_ej,
               LegalEntity.name, case((is_equipped(), True), else_=False))
        .outerjoin(LegalEntity, LegalEntity.finess_ej == e.finess_ej)
        .where(*scope).order_by(e.name, e.finess_et),
        ["finess_et", "name", "city", "department", "category_code", "finess_ej", "ej_name",
         "equipped"],
    )  # fmt: skip
    m = Mailbox
    boxes = frame(
        engine,
        select(e.finess_et, m.bal_type, m.address, m.link_kind)
        .join(m, and_(links_to_establishment(), valid_at(None))).where(*scope)
        .order_by(m.bal_type, m.address),
        ["finess_et", "bal_type", "address", "link_kind"],
    )  # fmt: skip
    boxes["bal"] = boxes["bal_type"] + " " + boxes["address"]
    boxes.loc[boxes["link_kind"] == LinkKind.EJ, "bal"] += " (EJ)"
    listed = boxes.groupby("finess_et")["bal"].agg(" ; ".join).rename("bals")
    df = base.merge(listed, on="finess_et", how="left")
    df["bals"] = df["bals"].fillna("")
    df["equipped"] = df["equipped"].astype(bool)
    return df


def legal_entity_names(engine: Engine, finess_ejs: Iterable[str]) -> dict[str, str]:
    """The raison sociale of each of ``finess_ejs`` that the FiNESS+ flow named (public data:
    no permission needed beyond the caller's own read)."""
    wanted = sorted({ej for ej in finess_ejs if isinstance(ej, str) and ej})
    names: dict[str, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(wanted), 500):  # well under SQLite's bound-parameter limit
            part = wanted[i : i + 500]
            stmt = select(LegalEntity.finess_ej, LegalEntity.name)
            names.update(
                tuple(r) for r in conn.execute(stmt.where(LegalEntity.finess_ej.in_(part)))
            )
    return names


def organisation_label(finess_ej: str, ej_name: str | None) -> str:
    """« ASSOCIATION LES TILLEULS (EJ 010000388) », or the number alone when FINESS gives no
    name (the legacy file)."""
    name = ej_name.strip() if isinstance(ej_name, str) else ""
    return f"{name} (EJ {finess_ej})" if name else f"EJ {finess_ej}"
