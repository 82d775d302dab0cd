"""Outreach priorities: each non-equipped ESMS scored, with its reasons in words.

The score is a weighted sum of simple signals (:mod:`balise.services.outreach_signals`), each
brought between 0 and 1; the weights and caps live in ``data/priorites.toml``
(:mod:`balise.referentials.priority_weights`). A signal that adds to the score is said in
words, strongest first; the last contact is always said when there is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from balise.formatting import fr_date, fr_percent
from balise.referentials.lifecycles import OnboardingStage
from balise.referentials.priority_weights import DEFAULT_FILE, PriorityWeights, load_weights
from balise.services.access import Actor, readable_departments
from balise.services.onboarding import RANK, STAGES
from balise.services.organisations import legal_entity_names
from balise.services.outreach_signals import Moment, signals

ENGAGED_STAGE = OnboardingStage.SENSIBILISE  # this stage or a later one counts as engaged


def scored(df: pd.DataFrame, weights: PriorityWeights, at: datetime) -> pd.DataFrame:
    """``df`` (signals) with ``score``, best first (ties: FINESS order)."""
    out = df.copy()
    out["score"] = _contributions(df, weights, at).sum(axis=1).round(2)
    return out.sort_values(["score", "finess_et"], ascending=[False, True], ignore_index=True)


def with_reasons(df: pd.DataFrame, weights: PriorityWeights, at: datetime) -> pd.DataFrame:
    """``df`` (scored) with ``reasons`` in words: worth it for the rows shown only."""
    contributions = _contributions(df, weights, at)
    reasons = [" ; ".join(_reasons(row, contributions.loc[i], at)) for i, row in df.iterrows()]
    return df.assign(reasons=reasons)


def _contributions(df: pd.DataFrame, weights: PriorityWeights, at: datetime) -> pd.DataFrame:
    parts = _normalised(df, weights, at)
    return pd.DataFrame({k: parts[k] * w for k, w in weights.weights.items()}, index=df.index)


def _normalised(df: pd.DataFrame, w: PriorityWeights, at: datetime) -> dict[str, pd.Series]:
    """Each signal between 0 and 1, named as in the weights file."""
    event_age = (pd.Timestamp(at) - pd.to_datetime(df["last_event"])).dt.days
    contact_age = (pd.Timestamp(at) - pd.to_datetime(df["last_contact"])).dt.days
    return {
        "organisme_equipe": df["siblings_equipped"].clip(upper=w.siblings_cap) / w.siblings_cap,
        "bal_personnelles": df["personal_bals"].clip(upper=w.personal_cap) / w.personal_cap,
        "categorie_equipee": df["category_share"],
        "evenement": (event_age <= w.event_days).astype(float),
        "contact_recent": (contact_age <= w.contact_days).astype(float),
        "etape": (df["stage"].map(RANK) >= RANK[ENGAGED_STAGE]).astype(float),
    }


def _reasons(row, contributions: pd.Series, at: datetime) -> list[str]:
    said = []
    for name, value in contributions.sort_values(ascending=False, kind="stable").items():
        if value > 0 and name != "contact_recent":
            said.append(_REASONS[name](row))
    if not pd.isna(row.last_contact):
        said.append(_days_ago((pd.Timestamp(at) - pd.Timestamp(row.last_contact)).days))
    return said


def _days_ago(days: int) -> str:
    if days < 1:
        return "dernier contact aujourd'hui"
    return f"dernier contact il y a {days} jour{'s' if days > 1 else ''}"


def _siblings(row) -> str:
    n = int(row.siblings_equipped)
    name = getattr(row, "ej_name", None)
    named = f" ({name})" if isinstance(name, str) and name else ""
    return f"{n} ESMS du même organisme{named} {'sont équipés' if n > 1 else 'est équipé'}"


def _personal(row) -> str:
    n = int(row.personal_bals)
    if n > 1:
        return f"{n} professionnels de la structure ont une BAL personnelle"
    return "1 professionnel de la structure a une BAL personnelle"


_REASONS = {
    "organisme_equipe": _siblings,
    "bal_personnelles": _personal,
    "categorie_equipee": lambda r: (
        f"catégorie équipée à {fr_percent(r.category_share, 0)} dans le département"
    ),
    "evenement": lambda r: f"présent à « {r.last_event_title} » le {fr_date(r.last_event)}",
    "etape": lambda r: f"étape « {STAGES[r.stage]} »",
}


def priorities(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    top: int | None = 30,
    weights_file: Path = DEFAULT_FILE,
    now: datetime | None = None,
) -> pd.DataFrame:
    """The non-equipped ESMS of the selection, best first (``top`` of them; None: all), with
    ``rank``, ``score``, ``reasons`` and their signals, as of ``now`` (default: the present,
    naive UTC) on the current mailboxes. The attrs hold ``candidates`` (how many were scored)
    and ``maximum`` (the highest score possible)."""
    departments = readable_departments(actor, departments)
    weights = load_weights(weights_file)
    moment = Moment(None, now) if now is not None else Moment.now()
    siblings_scope = readable_departments(actor, None)
    df = scored(signals(engine, departments, moment, siblings_scope), weights, moment.at)
    candidates = len(df)
    if top is not None:
        df = df.head(top)
    names = legal_entity_names(engine, df["finess_ej"])
    df = with_reasons(
        df.assign(ej_name=[names.get(ej, "") for ej in df["finess_ej"]]), weights, moment.at
    )
    df.insert(0, "rank", range(1, len(df) + 1))
    df.attrs.update(candidates=candidates, maximum=weights.maximum, weights=weights.file_name)
    return df
