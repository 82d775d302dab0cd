"""The webinar pack's animation sheets: « Accompagnement » (structures by onboarding stage, then
the « à relancer » list) and « Activité » (messages per month of the watched mailboxes, beside
their peers and the national order of magnitude). Layout only goes through :mod:`balise.exports`.

Both read through the services the pages use, with the actor's departments only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from balise.exports import Chart, Section, Sheet
from balise.formatting import fr_count, fr_decimal, fr_int, fr_month
from balise.services import onboarding, usage_peers
from balise.services.access import Actor
from balise.services.labels import category_label, department_label

ACCOMPANIMENT_SHEET = "Accompagnement"
ACTIVITY_SHEET = "Activité"
MONTHS = 6  # calendar months of the Activité sheet, the current one (partial) included
PER_MONTH = "Messages par mois (90 jours)"
PEER_MEDIAN = "Médiane de la catégorie"
SHOWN_MAILBOXES = 15  # bars a slide can show: the busiest watched mailboxes


def _funnel_table(engine: Engine, actor: Actor, departments: tuple[str, ...] | None):
    funnel = onboarding.funnel(engine, actor, departments)
    by_stage = funnel.pivot_table(
        index="stage", columns="department", values="structures", aggfunc="sum", sort=False
    ).reindex(list(onboarding.STAGES), fill_value=0)
    table = pd.DataFrame({"Étape": [onboarding.STAGES[s] for s in by_stage.index],
                          "Structures": by_stage.sum(axis=1).astype(int).to_numpy()})  # fmt: skip
    total = table["Structures"].sum()
    table["Part des ESMS"] = table["Structures"] / total if total else 0.0
    if by_stage.shape[1] > 1:  # one column per department when there are several
        for dep in by_stage.columns:
            table[department_label(dep)] = by_stage[dep].astype(int).to_numpy()
    return table


def _late_table(engine: Engine, actor: Actor, departments: tuple[str, ...] | None):
    late = onboarding.overdue(engine, actor, departments)
    return pd.DataFrame({
        "Échéance": late["due"], "Structure": late["name"], "FINESS": late["finess_et"],
        "Département": late["department"].map(department_label),
        "Étape": late["stage"].map(onboarding.STAGES), "Motif": late["reason"],
        "Suivie par": late["assigned_to"],
    })  # fmt: skip


def accompaniment_sheet(engine: Engine, actor: Actor, departments: tuple[str, ...] | None) -> Sheet:
    """Structures at each stage (summed, then by department), their chart, and the structures
    to call back (late next action, or equipped and still silent), oldest first."""
    funnel = _funnel_table(engine, actor, departments)
    formats = dict.fromkeys(funnel.columns[1:], "int") | {"Part des ESMS": "pct"}
    chart = Chart("bar", "Accompagnement : structures par étape", "Étape", ("Structures",),
                  "Structures", horizontal=True)  # fmt: skip
    late = _late_table(engine, actor, departments)
    title = f"À relancer : {fr_count(len(late), 'structure', 'structures')}"
    section = Section(title, late, {"Échéance": "date"})
    note = (
        "Étapes d'après les faits (BAL dans l'annuaire ou provisionnée, test réussi, messages "
        "échangés) et les changements faits à la main."
    )
    return Sheet(ACCOMPANIMENT_SHEET, funnel, formats, chart, note, (section,))


def _month_columns(engine, actor, departments, today: date) -> pd.DataFrame:
    """One column of messages per calendar month (« 11/2026 »), one row per address."""
    monthly = usage_peers.monthly_messages(engine, actor, departments, MONTHS, today)
    months = [usage_peers.months_back(today, MONTHS - i) for i in range(MONTHS)]  # oldest first
    wide = monthly.pivot_table(index="address", columns="month", values="messages", aggfunc="sum")
    wide = wide.reindex(columns=months, fill_value=0).fillna(0).astype(int)
    wide.columns = [fr_month(m) for m in months]
    return wide


def activity_sheet(
    engine: Engine,
    actor: Actor,
    departments: tuple[str, ...] | None,
    today: date | None = None,
    national_file: Path = usage_peers.NATIONAL_FILE,
) -> Sheet:
    """Each watched mailbox of the selection: its messages per month, then its average over
    90 days beside the median of its category's watched mailboxes and the national figure;
    the busiest first. Without any watched mailbox, the sheet says how to add one."""
    today = today or date.today()
    peers = usage_peers.peer_usage(engine, actor, departments, today, national_file)
    national = usage_peers.national_usage(national_file)
    months = _month_columns(engine, actor, departments, today)
    peers = peers.sort_values(["messages_per_month", "address"], ascending=[False, True])
    table = pd.DataFrame({
        "Adresse": peers["address"], "Département": peers["department"].map(department_label),
        "Catégorie": peers["category_code"].map(category_label),
    })  # fmt: skip
    table = table.join(months.reindex(peers["address"]).fillna(0).astype(int).set_axis(peers.index))
    table[PER_MONTH] = peers["messages_per_month"].round(1)
    table[PEER_MEDIAN] = peers["peer_median"].round(1)
    table["BAL suivies comparées"] = peers["peers"]
    table["Repère national"] = peers["national"].round(0)
    table = table.reset_index(drop=True)
    formats = dict.fromkeys([*months.columns, "BAL suivies comparées"], "int")
    return Sheet(ACTIVITY_SHEET, table, formats, _activity_chart(len(table)),
                 _activity_note(national, table.empty))  # fmt: skip


def _activity_chart(mailboxes: int) -> Chart:
    title = "Messages par mois des BAL suivies, à côté de leurs pairs"
    if mailboxes > SHOWN_MAILBOXES:
        title += f" (les {fr_int(SHOWN_MAILBOXES)} plus actives)"
    return Chart("bar", title, "Adresse", (PER_MONTH, PEER_MEDIAN), "Messages par mois",
                 horizontal=True, max_categories=SHOWN_MAILBOXES)  # fmt: skip


def _activity_note(national: usage_peers.NationalUsage, empty: bool) -> str:
    if empty:
        return (
            "Aucune BAL suivie dans la sélection : ajoutez une boîte à suivre (page Activité ou "
            "« balise mailbox add »), ses messages par mois apparaîtront ici."
        )
    return (
        f"Messages envoyés et reçus par mois civil (le mois en cours est partiel). Repère "
        f"national : {fr_decimal(national.per_mailbox, 0)} messages par BAL et par mois "
        f"({national.source} : {fr_decimal(national.messages / 1e6, 0)} millions de messages, "
        f"{fr_decimal(national.mailboxes / 1e3, 0)} milliers de BAL)."
    )
