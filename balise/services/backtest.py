"""An honest backtest of the outreach score: replay the stored directory snapshots.

At each snapshot t but the last, every ESMS not equipped at t is scored with what was known at
t only (:class:`~balise.services.outreach_signals.Moment`: mailbox versions valid at t, events
and contacts dated before t); it is a *positive* when it is equipped at one later snapshot at
least. Measured over all (t, ESMS) pairs: precision of the top k at each t, the base rate, the
lift (precision over base rate) and the ROC AUC, computed here from ranks (Mann–Whitney U, ties
counted one half), with the number of snapshots and ESMS used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from balise.referentials.priority_weights import DEFAULT_FILE, load_weights
from balise.services.access import Actor, readable_departments
from balise.services.outreach_signals import Moment, equipped_at_any, signals
from balise.services.priorities import scored
from balise.services.snapshots import directory_snapshots


@dataclass
class BacktestResult:
    k: int
    snapshots: int = 0  # snapshots scored (each but the last)
    pairs: int = 0  # (snapshot, ESMS) pairs scored
    structures: int = 0  # distinct ESMS scored at least once
    positives: int = 0
    hits: int = 0  # positives among the top k, summed over snapshots
    picked: int = 0  # structures in the top k, summed over snapshots
    auc: float | None = None
    per_snapshot: list[dict] = field(default_factory=list)

    @property
    def base_rate(self) -> float | None:
        return self.positives / self.pairs if self.pairs else None

    @property
    def precision(self) -> float | None:
        return self.hits / self.picked if self.picked else None

    @property
    def lift(self) -> float | None:
        if self.precision is None or not self.base_rate:
            return None
        return self.precision / self.base_rate

    def as_dict(self) -> dict:
        keys = ("k", "snapshots", "pairs", "structures", "positives", "hits", "picked", "auc")
        return {k: getattr(self, k) for k in keys} | {
            "base_rate": self.base_rate, "precision": self.precision, "lift": self.lift,
            "per_snapshot": self.per_snapshot,
        }  # fmt: skip


def roc_auc(scores: Iterable[float], positive: Iterable[bool]) -> float | None:
    """Probability that a positive scores above a negative (ties count one half), from the rank
    sum of the positives; None when either class is empty."""
    df = pd.DataFrame({"score": list(scores), "positive": list(positive)})
    n_pos = int(df["positive"].sum())
    n_neg = len(df) - n_pos
    if not n_pos or not n_neg:
        return None
    ranks = df["score"].rank(method="average")
    u = ranks[df["positive"]].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def backtest(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    k: int = 30,
    weights_file: Path = DEFAULT_FILE,
) -> BacktestResult:
    """Score each snapshot's non-equipped ESMS of the selection; see the module docstring."""
    departments = readable_departments(actor, departments)
    weights = load_weights(weights_file)
    snaps = directory_snapshots(engine)
    result = BacktestResult(k=k)
    pooled, seen = [], set()
    for i in range(len(snaps) - 1):
        snap = snaps.iloc[i]
        moment = Moment(int(snap.snapshot_id), snap.date.to_pydatetime())
        df = scored(signals(engine, departments, moment, departments), weights, moment.at)
        later = [int(s) for s in snaps["snapshot_id"].iloc[i + 1 :]]
        df["positive"] = df["finess_et"].isin(equipped_at_any(engine, departments, later))
        _add_snapshot(result, snap, df)
        pooled.append(df[["score", "positive"]])
        seen |= set(df["finess_et"])
    if pooled:
        all_pairs = pd.concat(pooled, ignore_index=True)
        result.auc = roc_auc(all_pairs["score"], all_pairs["positive"])
    result.structures = len(seen)
    return result


def _add_snapshot(result: BacktestResult, snap, df: pd.DataFrame) -> None:
    top = df.head(result.k)  # ``scored`` sorts best first
    hits, positives = int(top["positive"].sum()), int(df["positive"].sum())
    result.snapshots += 1
    result.pairs += len(df)
    result.positives += positives
    result.hits += hits
    result.picked += len(top)
    result.per_snapshot.append({
        "snapshot_id": int(snap.snapshot_id), "date": snap.date.date().isoformat(),
        "scored": len(df), "positives": positives, "hits": hits, "picked": len(top),
        "auc": roc_auc(df["score"], df["positive"]),
    })  # fmt: skip
