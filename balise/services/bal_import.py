"""Bulk import of BALs from the spreadsheet template: a dry run that reports every row's
problems with its line number, then an all-or-nothing apply with a final report."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from balise.config import Settings
from balise.errors import ValidationError
from balise.mail.provision import Backend
from balise.referentials.bal_sheet import read_sheet
from balise.services import audit
from balise.services.access import Actor
from balise.services.bal_requests import plan
from balise.services.provisioning import ProvisionReport, authorise, provision_many


@dataclass
class RowReport:
    line: int
    address: str
    problems: list[str]
    already: bool = False  # identical BAL already provisioned: nothing to do

    @property
    def state(self) -> str:
        if self.problems:
            return "erreur"
        return "déjà provisionnée" if self.already else "à créer"


@dataclass
class ImportReport:
    rows: list[RowReport]
    applied: bool = False
    results: list[ProvisionReport] = field(default_factory=list)

    @property
    def errors(self) -> list[RowReport]:
        return [r for r in self.rows if r.problems]

    def summary(self) -> str:
        todo = sum(r.state == "à créer" for r in self.rows)
        already = sum(r.already for r in self.rows)
        if self.applied:
            return f"Import appliqué : {todo} BAL créées ou demandées, {already} déjà présentes."
        if self.errors:
            return (
                f"{len(self.errors)} ligne(s) en erreur sur {len(self.rows)} : "
                "corrigez le fichier, rien n'a été importé."
            )
        return f"Essai à blanc : {todo} BAL à créer, {already} déjà présentes, aucune erreur."

    def problem_lines(self) -> list[str]:
        """``Ligne 3 : <problem>`` for every problem, in file order."""
        return [f"Ligne {r.line} : {p}" for r in self.errors for p in r.problems]


def dry_run(engine: Engine, actor: Actor, settings: Settings, data: bytes) -> ImportReport:
    """Check every row (rules, directory, already provisioned, duplicates in the file). The
    actor must be allowed to act in every row's department first: what the store holds in
    another department (addresses taken...) is not theirs to learn."""
    rows = read_sheet(data)
    authorise(engine, actor, [r.request for r in rows], "bal.import")
    planned = plan(engine, settings, [r.request for r in rows])
    return ImportReport(
        [
            RowReport(row.line, request.address, [m for _, m in problems], same)
            for row, (request, problems, same) in zip(rows, planned, strict=True)
        ]
    )


def apply(
    engine: Engine,
    actor: Actor,
    settings: Settings,
    data: bytes,
    backend: Backend | None = None,
) -> ImportReport:
    """Apply the file if and only if every row is valid; otherwise raise with every problem."""
    report = dry_run(engine, actor, settings, data)
    if report.errors:
        problems = [("", line) for line in report.problem_lines()]
        raise ValidationError(report.summary(), problems)
    requests = read_sheet(data)
    report.results = provision_many(engine, actor, settings, [r.request for r in requests], backend)
    report.applied = True
    with engine.begin() as conn:
        detail = {"lignes": len(report.rows), "créées": sum(r.created for r in report.results)}
        audit.record(conn, actor, "bal.import", None, "ok", None, detail)
    return report
