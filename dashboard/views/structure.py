"""Structure: one establishment's identity, its department's referent animator, mailboxes and
history across directory snapshots."""

import streamlit as st

from balise.errors import BaliseError, PermissionDenied
from balise.formatting import fr_int
from balise.services.labels import category_label, department_label
from balise.services.structures import StructureFilter
from dashboard import actions, animation_data, charts, data, tables
from dashboard.shell import page_context
from dashboard.structure_picker import explain_outside, link_with_structure

ctx = page_context("Structure")
if "finess" in st.query_params:
    st.session_state["structure"] = st.query_params["finess"]
listing = data.structure_list(ctx.marker, ctx.actor, ctx.departments, StructureFilter())
labels = {r.finess_et: f"{r.name} ({r.finess_et})" for r in listing.itertuples()}
current = st.session_state.get("structure")
if current and current not in labels:  # outside the selection: said why, then not kept
    explain_outside(ctx.actor, current, "structure")
    current = st.session_state["structure"] = None
    st.query_params.pop("finess", None)
if not labels:
    st.info(
        "Aucun ESMS dans cette sélection : importez le fichier FINESS (`balise ingest finess SOURCE`)."
    )
    st.stop()
options = list(labels)
finess = st.selectbox(
    "Structure", options, index=options.index(current) if current in options else 0,
    format_func=labels.get, key="structure_pick", placeholder="Choisir…",
)  # fmt: skip
st.session_state["structure"] = finess

try:
    ident = data.establishment(ctx.marker, ctx.actor, finess)
except BaliseError as exc:
    if isinstance(exc, PermissionDenied):  # another department's structure: a refused read
        actions.audit_refusal(ctx.actor, "page.structure", exc)
    st.error(str(exc))
    st.stop()

st.header(ident["name"])
address = " ".join(p for p in (ident["address"], ident["postcode"], ident["city"]) if p)
st.markdown(
    f"**FINESS** {ident['finess_et']} · **Entité juridique** {ident['finess_ej'] or '—'}  \n"
    f"**Catégorie** {category_label(ident['category_code'])} ({ident['category_label'] or ident['category_code']})  \n"
    f"**Adresse** {address or '—'} · **Département** {department_label(ident['department'])}"
)
if data.may_act_on_bals(ctx.actor, ident["department"]):
    provision, test, _ = st.columns([1, 1, 3])
    with provision:
        link_with_structure("provisionner", "Provisionner une BAL", ":material/person_add:", finess)
    with test:
        link_with_structure("tester", "Tester ses BAL", ":material/fact_check:", finess)
refs = animation_data.referents((ident["department"],))
if not refs.empty:
    people = " · ".join(
        f"{r.name} ({r.email}, {r.phone or 'pas de téléphone'})" for r in refs.itertuples()
    )
    st.caption(f"Animateur référent du département — {people}")
boxes = data.establishment_mailboxes(ctx.marker, ctx.actor, finess)
st.metric("BAL MSSanté rattachées", fr_int(len(boxes)))
if boxes.empty:
    st.info("Cette structure n'a aucune BAL dans l'annuaire : proposez-lui d'en ouvrir une.")
else:
    tables.show(boxes, ["address", "bal_type", "service", "link_kind", "first_seen"])
history = data.establishment_history(ctx.marker, ctx.actor, finess)
if not history.empty:
    st.plotly_chart(charts.history_bars(history), key="history")
