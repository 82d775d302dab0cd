"""Mailbox activity: the watched mailboxes (actions) and what the *Activité* page reads (queries).

Actions check the actor's rights and write one audit line in the same transaction. Secrets are
stored as ``balise.secrets`` references: a secret typed by the user is sealed with the Fernet key
(``enc:``), or the user names where it lives (``env:VAR``, ``file:/path``). The client key of an
applicative mailbox is a file path (TLS libraries load keys from files), kept as ``file:/path``.

Counterpart categories (the heuristic, used by the poll): a counterpart domain is resolved through
the directory: among the *current* directory mailboxes of that domain that link to a FINESS
establishment, the category linking a strict majority of them wins; a shared operator domain with
no majority category (e.g. a national domain used by every kind of structure) resolves to ""
(unknown) rather than to a guess.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Integer,
    String,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    update,
)

from balise.errors import NotFoundError, ValidationError
from balise.mail.endpoints import AUTH_MODES, TLS_MODES, submission_endpoint
from balise.models import DailyActivity, Establishment, Mailbox, WatchedMailbox
from balise.referentials.departments import load_departments
from balise.referentials.use_cases import flow_use_cases
from balise.secrets import describe, seal
from balise.services import audit, keyring
from balise.services.access import (
    Actor,
    actable_departments,
    check_can_act,
    readable_departments,
)
from balise.services.labels import category_label
from balise.services.links import links_to_establishment
from balise.services.queries import frame, in_departments
from balise.services.refusals import refusals_audited
from balise.services.watch_list import watched_rows, with_submission

if TYPE_CHECKING:
    import pandas as pd

ADDRESS_RE = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACTIVE_DAYS = 30


@dataclass(frozen=True)
class WatchRequest:
    """What a user fills in to watch a mailbox. ``secret`` is the clear password/token to seal,
    or None when ``secret_ref`` already names where it lives (env:/file:)."""

    address: str
    department: str
    imap_host: str
    imap_port: int
    tls_mode: str = "starttls"
    auth_mode: str = "password"
    username: str | None = None
    secret: str | None = None
    secret_ref: str | None = None
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    folders: tuple[str, ...] = ()
    # Submission as the operator publishes it; None = derived (connection.submission_endpoint).
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_tls_mode: str | None = None


def _problems(req: WatchRequest) -> list[tuple[str, str]]:
    found = []
    if not ADDRESS_RE.match(req.address.strip().lower()):
        found.append(("address", f"L'adresse « {req.address} » n'est pas une adresse valide."))
    if req.department not in load_departments():
        found.append(("department", f"Le département « {req.department} » n'existe pas."))
    if req.tls_mode not in TLS_MODES:
        found.append(("tls_mode", "Le mode TLS doit être starttls ou implicit."))
    if req.auth_mode not in AUTH_MODES:
        found.append(
            ("auth_mode", f"Le mode d'authentification doit être {', '.join(AUTH_MODES)}.")
        )
    if not 0 < req.imap_port < 65536:
        found.append(("imap_port", "Le port IMAP doit être compris entre 1 et 65535."))
    if req.smtp_port is not None and not 0 < req.smtp_port < 65536:
        found.append(("smtp_port", "Le port SMTP doit être compris entre 1 et 65535."))
    if req.smtp_tls_mode is not None and req.smtp_tls_mode not in TLS_MODES:
        found.append(("smtp_tls_mode", "Le mode TLS de l'envoi doit être starttls ou implicit."))
    if not req.imap_host.strip() or (req.smtp_host is not None and not req.smtp_host.strip()):
        found.append(("imap_host", "Le nom du serveur ne peut pas être vide."))
    if req.auth_mode == "external" and not (req.client_cert and req.client_key):
        found.append(("client_cert", "Le mode EXTERNAL demande un certificat et une clé client."))
    if req.auth_mode in ("password", "xoauth2", "oauthbearer") and not (
        req.secret or req.secret_ref
    ):
        found.append(
            ("secret", "Un mot de passe ou un jeton (ou sa référence env:/file:) est requis.")
        )
    if req.secret_ref:
        found += _reference_problems(req.secret_ref)
    return found


def _reference_problems(reference: str) -> list[tuple[str, str]]:
    """Where a secret lives: ``env:NAME`` (a variable name) or ``file:/path`` (not empty)."""
    kind, _, value = reference.partition(":")
    if kind not in ("env", "file"):
        return [("secret", "La référence du secret doit commencer par env: ou file:.")]
    if kind == "env" and not value.strip():
        return [("secret", "Le nom de la variable d'environnement du secret est vide.")]
    if kind == "env" and not ENV_NAME_RE.match(value):
        return [("secret", f"« {value} » n'est pas un nom de variable d'environnement "
                           "(lettres, chiffres et _, par exemple BALISE_SECRET_ACCUEIL).")]  # fmt: skip
    if kind == "file" and not value.strip():
        return [("secret", "Le chemin du fichier secret est vide.")]
    return []


def _secret_ref(req: WatchRequest, key: str) -> str | None:
    if req.auth_mode == "external":
        return None
    return seal(req.secret, key) if req.secret else req.secret_ref


def _require_key(engine: Engine, req: WatchRequest, secret_key: str) -> None:
    """A typed secret is sealed with the store's key only (missing or another: refused)."""
    if req.secret and req.auth_mode != "external":
        keyring.require_key(engine, secret_key)


def _endpoint_values(req: WatchRequest, secret_key: str) -> dict:
    """The columns that say how to reach and log into the mailbox (IMAP and submission)."""
    smtp_host, smtp_port, smtp_tls = submission_endpoint(
        req.imap_host.strip(), req.tls_mode, (req.smtp_host or "").strip() or None,
        req.smtp_port, req.smtp_tls_mode,
    )  # fmt: skip
    return {
        "imap_host": req.imap_host.strip(),
        "imap_port": req.imap_port,
        "tls_mode": req.tls_mode,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "smtp_tls_mode": smtp_tls,
        "auth_mode": req.auth_mode,
        "username": (req.username or "").strip() or req.address.strip().lower(),
        "secret_ref": _secret_ref(req, secret_key),
        "ca_bundle": req.ca_bundle or None,
        "client_cert": req.client_cert or None,
        "client_key_ref": f"file:{req.client_key}" if req.client_key else None,
    }


def _audit_detail(req: WatchRequest, values: dict) -> dict:
    return {"auth_mode": req.auth_mode, "host": values["imap_host"],
            "smtp": f"{values['smtp_host']}:{values['smtp_port']}"}  # fmt: skip


def add_watched(engine: Engine, actor: Actor, req: WatchRequest, secret_key: str) -> int:
    """Start watching a mailbox; return its id. Refusals are French sentences naming the field."""
    address = req.address.strip().lower()
    with refusals_audited(engine, actor, "mailbox.add", address, req.department):
        check_can_act(actor, req.department, "mailbox")
    problems = _problems(req)
    if problems:
        raise ValidationError(problems[0][1], problems)
    _require_key(engine, req, secret_key)
    values = {"address": address, "department": req.department, "folders": ",".join(req.folders),
              "enabled": True} | _endpoint_values(req, secret_key)  # fmt: skip
    with engine.begin() as conn:
        if conn.scalar(select(WatchedMailbox.id).where(WatchedMailbox.address == address)):
            raise ValidationError(f"La boîte {address} est déjà suivie.", [("address", "")])
        new_id = conn.execute(insert(WatchedMailbox).values(**values)).inserted_primary_key[0]
        audit.record(conn, actor, "mailbox.add", address, department=req.department,
                     detail=_audit_detail(req, values))  # fmt: skip
    return int(new_id)


def save_endpoints(engine: Engine, actor: Actor, req: WatchRequest, secret_key: str) -> bool:
    """The pages' form: watch the mailbox, or change how to reach it (servers, login, auth)
    when it is already watched, keeping its counts, folder positions and, when none is typed,
    its secret. True when the mailbox was added."""
    address = req.address.strip().lower()
    w = WatchedMailbox
    with engine.connect() as conn:
        row = conn.execute(select(w.department, w.secret_ref).where(w.address == address)).first()
    if row is None:
        add_watched(engine, actor, req, secret_key)
        return True
    check_can_act(actor, row.department, "mailbox")
    if not (req.secret or req.secret_ref) and row.secret_ref and req.auth_mode != "external":
        req = replace(req, secret_ref=row.secret_ref)
    problems = _problems(replace(req, department=row.department))
    if problems:
        raise ValidationError(problems[0][1], problems)
    _require_key(engine, req, secret_key)
    values = _endpoint_values(req, secret_key)
    with engine.begin() as conn:
        conn.execute(update(w).where(w.address == address).values(**values))
        audit.record(conn, actor, "mailbox.update", address, department=row.department,
                     detail=_audit_detail(req, values))  # fmt: skip
    return False


def endpoints(engine: Engine, actor: Actor, address: str) -> dict | None:
    """How a watched mailbox is reached (no secret: only its description), or None."""
    w = WatchedMailbox
    with engine.connect() as conn:
        row = conn.execute(
            select(w.address, w.department, w.imap_host, w.imap_port, w.tls_mode, w.smtp_host,
                   w.smtp_port, w.smtp_tls_mode, w.username, w.auth_mode, w.secret_ref,
                   w.ca_bundle, w.client_cert, w.client_key_ref)
            .where(w.address == address.strip().lower())
        ).mappings().first()  # fmt: skip
    if row is None:
        return None
    readable_departments(actor, [row["department"]])
    found = with_submission(dict(row))
    found["secret"] = describe(found.pop("secret_ref"))
    found["client_key"] = (found.pop("client_key_ref") or "").removeprefix("file:") or None
    return found


def move_watched(
    engine: Engine, actor: Actor, address: str, imap_host: str, imap_port: int, ca_bundle: str
) -> bool:
    """Point a watched mailbox at its server's new endpoint (a restarted sandbox operator may
    get new ports); False when nothing changed. Counts and UID positions are kept."""
    address = address.strip().lower()
    w = WatchedMailbox
    endpoint = {"imap_host": imap_host, "imap_port": imap_port, "ca_bundle": ca_bundle}
    _check_watched(engine, actor, address, "mailbox.move")
    with engine.begin() as conn:
        row = conn.execute(
            select(w.department, w.imap_host, w.imap_port, w.ca_bundle).where(w.address == address)
        ).first()
        if (row.imap_host, row.imap_port, row.ca_bundle) == tuple(endpoint.values()):
            return False
        conn.execute(update(w).where(w.address == address).values(**endpoint))
        audit.record(
            conn, actor, "mailbox.move", address, department=row.department,
            detail={"host": imap_host, "port": imap_port},
        )  # fmt: skip
    return True


def _check_watched(engine: Engine, actor: Actor, address: str, action: str) -> str:
    """The department of the watched mailbox at ``address``, if ``actor`` may act on it
    (refusals audited)."""
    with engine.connect() as conn:
        department = conn.scalar(
            select(WatchedMailbox.department).where(WatchedMailbox.address == address)
        )
    if department is None:
        raise NotFoundError(f"La boîte {address} n'est pas suivie.")
    with refusals_audited(engine, actor, action, address, department):
        check_can_act(actor, department, "mailbox")
    return department


def poll_scope(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None = None,
    addresses: Iterable[str] | None = None,
) -> tuple[str, ...] | None:
    """The departments whose watched mailboxes ``actor`` polls (None: all). Every department
    and every mailbox named must be one the actor acts on (a poll signs in to the mailboxes
    and writes their counts); without any, an animator polls their own departments only."""
    with refusals_audited(engine, actor, "poll"):
        allowed = actable_departments(actor, departments, "poll")
        if addresses is None or actor.role == "admin":
            return allowed
        named = [a.strip().lower() for a in addresses]
        with engine.connect() as conn:
            found = conn.execute(
                select(WatchedMailbox.address, WatchedMailbox.department)
                .where(WatchedMailbox.address.in_(named))
                .order_by(WatchedMailbox.address)
            ).all()
        for row in found:
            check_can_act(actor, row.department, "poll")
    return allowed


def remove_watched(engine: Engine, actor: Actor, address: str) -> None:
    """Stop watching a mailbox; its counts go with it."""
    address = address.strip().lower()
    _check_watched(engine, actor, address, "mailbox.remove")
    with engine.begin() as conn:
        row = conn.execute(
            select(WatchedMailbox.id, WatchedMailbox.department).where(
                WatchedMailbox.address == address
            )
        ).one()
        conn.execute(delete(DailyActivity).where(DailyActivity.mailbox_id == row.id))
        conn.execute(delete(WatchedMailbox).where(WatchedMailbox.id == row.id))
        audit.record(conn, actor, "mailbox.remove", address, department=row.department)


def watched(engine: Engine, actor: Actor, departments: Iterable[str] | None = None) -> pd.DataFrame:
    """:func:`watched_rows` as a DataFrame, for the pages."""
    import pandas as pd

    columns = [*WATCHED_COLUMNS, "secret"]
    return pd.DataFrame(watched_rows(engine, actor, departments), columns=columns)


WATCHED_COLUMNS = (
    "address", "department", "imap_host", "imap_port", "tls_mode", "smtp_host", "smtp_port",
    "smtp_tls_mode", "username", "auth_mode", "last_poll_at", "last_poll_ok",
    "last_poll_message", "last_activity_at",
)  # fmt: skip


# ----- counterpart categories --------------------------------------------------------------------
def _domain_of(conn: Connection, column):
    if conn.dialect.name == "postgresql":
        return func.split_part(column, "@", 2)
    return func.substr(column, func.instr(column, "@") + 1)


def domain_categories(conn: Connection, domains: Iterable[str] | None = None) -> dict[str, str]:
    """Counterpart domain -> FINESS category code by strict majority (module docstring)."""
    dom = _domain_of(conn, Mailbox.address).label("domain")
    stmt = (
        select(dom, Establishment.category_code, func.count(distinct(Mailbox.id)))
        .join(Establishment, links_to_establishment())
        .where(Mailbox.valid_to.is_(None))
        .group_by(dom, Establishment.category_code)
    )
    if domains is not None:
        stmt = stmt.where(dom.in_(sorted(set(domains))))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for domain, category, n in conn.execute(stmt):
        counts[domain][category] = n
    resolved = {}
    for domain, by_cat in counts.items():
        category, best = max(by_cat.items(), key=lambda kv: kv[1])
        if 2 * best > sum(by_cat.values()):
            resolved[domain] = category
    return resolved


def own_categories(conn: Connection, mailbox_ids: Iterable[int]) -> dict[int, str]:
    """Watched mailbox id -> its own category: its directory line first, else its domain."""
    w = WatchedMailbox
    rows = conn.execute(
        select(w.id, w.address, Establishment.category_code)
        .select_from(w)
        .outerjoin(Mailbox, (Mailbox.address == w.address) & Mailbox.valid_to.is_(None))
        .outerjoin(Establishment, links_to_establishment())
        .where(w.id.in_(list(mailbox_ids)))
    ).all()
    exact = {r.id: r.category_code for r in rows if r.category_code}
    by_domain = domain_categories(conn, {r.address.rpartition("@")[2] for r in rows})
    return {r.id: exact.get(r.id) or by_domain.get(r.address.rpartition("@")[2], "") for r in rows}


# ----- queries for the Activité page ---------------------------------------------------------------
def _since(today: date | None, days: int) -> date:
    return (today or date.today()) - timedelta(days=days - 1)


def headline(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, today: date | None = None
) -> dict:
    """Watched mailboxes, active mailboxes and active structures over the last 30 days."""
    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    since = _since(today, ACTIVE_DAYS)
    active = (
        select(w.id)
        .join(d, d.mailbox_id == w.id)
        .where(in_departments(w.department, departments), d.day >= since, d.messages > 0)
        .distinct()
    ).subquery()
    with engine.connect() as conn:
        total = conn.scalar(
            select(func.count(w.id)).where(in_departments(w.department, departments))
        )
        mailboxes = conn.scalar(select(func.count()).select_from(active))
        structures = conn.scalar(
            select(func.count(distinct(Establishment.finess_et)))
            .select_from(w)
            .join(Mailbox, (Mailbox.address == w.address) & Mailbox.valid_to.is_(None))
            .join(Establishment, links_to_establishment())
            .where(w.id.in_(select(active.c.id)))
        )
    return {
        "watched": total or 0,
        "active_mailboxes": mailboxes or 0,
        "active_structures": structures or 0,
    }


def _week_start(dialect: str, column):
    if dialect == "postgresql":
        return cast(func.date_trunc("week", column), Date)
    # SQLite: back to Monday (%w: 0 = Sunday).
    back = cast((cast(func.strftime("%w", column), Integer) + 6) % 7, String)
    return func.date(column, literal("-") + back + literal(" days"))


def weekly_messages(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    weeks: int = 12,
    today: date | None = None,
) -> pd.DataFrame:
    """Messages per week (Monday), department and direction."""
    import pandas as pd

    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    week = _week_start(engine.dialect.name, d.day).label("week")
    stmt = (
        select(week, w.department, d.direction, func.sum(d.messages).label("messages"))
        .join(w, w.id == d.mailbox_id)
        .where(in_departments(w.department, departments), d.day >= _since(today, 7 * weeks))
        .group_by(week, w.department, d.direction)
        .order_by(week, w.department, d.direction)
    )
    df = frame(engine, stmt, ["week", "department", "direction", "messages"])
    df["week"] = pd.to_datetime(df["week"]).dt.date
    df["messages"] = df["messages"].astype(int)
    return df


def category_flows(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    days: int = 90,
    today: date | None = None,
) -> pd.DataFrame:
    """Messages from category to category (source, target, messages, use_cases): the Sankey's
    links. ``use_cases`` names the seed's use cases the flow belongs to (" ; " between them,
    "" when none): ``balise.referentials.use_cases``.

    Received messages flow counterpart -> watched mailbox, sent ones the other way."""
    import pandas as pd

    departments = readable_departments(actor, departments)
    w, d = WatchedMailbox, DailyActivity
    stmt = (
        select(d.mailbox_id, d.direction, d.counterpart_category, func.sum(d.messages))
        .join(w, w.id == d.mailbox_id)
        .where(in_departments(w.department, departments), d.day >= _since(today, days))
        .group_by(d.mailbox_id, d.direction, d.counterpart_category)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        own = own_categories(conn, {r[0] for r in rows})
    # Summed by category code first: use cases are stated in codes, several codes share a label.
    by_code: dict[tuple[str, str], int] = defaultdict(int)
    for mailbox_id, direction, other, n in rows:
        mine, theirs = own[mailbox_id] or "", other or ""
        by_code[(theirs, mine) if direction == "in" else (mine, theirs)] += int(n)
    flows: dict[tuple[str, str], int] = defaultdict(int)
    cases: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (source, target), n in by_code.items():
        key = (category_label(source), category_label(target))
        flows[key] += n
        for title in flow_use_cases(source, target):
            if title not in cases[key]:
                cases[key].append(title)
    data = sorted(
        ((s, t, n, " ; ".join(cases[(s, t)])) for (s, t), n in flows.items()),
        key=lambda r: (-r[2], r[0], r[1]),
    )
    return pd.DataFrame(data, columns=["source", "target", "messages", "use_cases"])


def silent_mailboxes(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, today: date | None = None
) -> pd.DataFrame:
    """Watched mailboxes with no message in the last 30 days, with their structure: whom to call."""
    departments = readable_departments(actor, departments)
    w = WatchedMailbox
    cutoff = datetime.combine(_since(today, ACTIVE_DAYS), datetime.min.time())
    stmt = (
        select(
            w.address, w.department,
            func.coalesce(Establishment.name, Mailbox.structure_name, literal("")).label("structure"),
            func.coalesce(Establishment.category_code, literal("")).label("category_code"),
            w.last_activity_at,
        )
        .select_from(w)
        .outerjoin(Mailbox, (Mailbox.address == w.address) & Mailbox.valid_to.is_(None))
        .outerjoin(Establishment, links_to_establishment())
        .where(
            in_departments(w.department, departments),
            (w.last_activity_at.is_(None)) | (w.last_activity_at < cutoff),
        )
        .order_by(w.department, w.address)
    )  # fmt: skip
    df = frame(
        engine, stmt, ["address", "department", "structure", "category_code", "last_activity_at"]
    )
    return df.drop_duplicates("address").reset_index(drop=True)


def poll_status(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """Last poll of each watched mailbox: when, whether it worked, and the French message."""
    df = watched(engine, actor, departments)
    cols = ["address", "department", "last_poll_at", "last_poll_ok", "last_poll_message",
            "last_activity_at"]  # fmt: skip
    return df[cols]


def change_marker(engine: Engine) -> str:
    """Changes when a mailbox is added, removed or polled: the cache key of the Activité page."""
    w = WatchedMailbox
    with engine.connect() as conn:
        n, last = conn.execute(select(func.count(w.id), func.max(w.last_poll_at))).one()
    return f"{n}:{last}"
