"""Two departments side by side on the small adoption store (Isère 38, Rhône 69): one BAL
provisioned in each, each also watched by the activity poll (its secret in an absent variable,
so a poll fails at once without any network), an account of every kind, and an open import
alert (deletion gate) in each department. The store the
permission tests run on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert

from balise.config import Settings
from balise.models import IngestAlert
from balise.referentials.bal_rules import BalRequest
from balise.services import bal_lifecycle, users, watched_mailboxes
from balise.services import provisioning as prov
from balise.services.access import SYSTEM, Actor
from tests.support.adoption_seed import seed_small_adoption

DOMAIN = "ehpad-lilas.mssante.fr"
BAL38, BAL69 = f"cabinet-isere@{DOMAIN}", f"cabinet-rhone@{DOMAIN}"
E38, E69 = "380000001", "690000001"  # EHPAD Les Tilleuls (38), IME Les Cèdres (69)
ABSENT_SECRET = "BALISE_TEST_ABSENT"
ANIM38 = Actor("anim38", "animator", ("38",))
MANAGER = Actor("chargee", "manager")
ADMIN = Actor("admin", "admin")
DISABLED = "ancien"  # a disabled administrator's account


def cab(address: str, department: str) -> BalRequest:
    return BalRequest("CAB", department, address, practice="Cabinet")


def seed_two_departments(engine: Engine, settings: Settings) -> None:
    seed_small_adoption(engine)
    for address, dep in ((BAL38, "38"), (BAL69, "69")):
        prov.provision(engine, SYSTEM, settings, cab(address, dep))
        bal_lifecycle.confirm(engine, SYSTEM, address)  # requested -> provisioned: testable
        watch = watched_mailboxes.WatchRequest(address, dep, "127.0.0.1", 143,
                                      secret_ref=f"env:{ABSENT_SECRET}")  # fmt: skip
        watched_mailboxes.add_watched(engine, SYSTEM, watch, settings.secret_key)
    for actor in (ANIM38, MANAGER, ADMIN, Actor(DISABLED, "admin")):
        new = users.NewUser(actor.login, actor.role, actor.departments)
        users.add_user(engine, SYSTEM, new)
    users.disable_user(engine, SYSTEM, DISABLED)
    for department in ("38", "69"):  # alert 1 in the Isère, 2 in the Rhône
        with engine.begin() as conn:
            conn.execute(insert(IngestAlert).values(
                created_at=datetime(2026, 11, 25), source="annuaire", departments=department,
                file_name=f"annuaire-{department}.txt", message="Import refusé.",
                detail=f'[{{"department": "{department}", "current": 40, "closing": 30}}]',
            ))  # fmt: skip
