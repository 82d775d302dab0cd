"""Activité: use of the watched mailboxes (metadata only): who is active, messages per week,
the exchanges between categories of structures and the use cases they match, who to call, and
the last poll of each box."""

from functools import partial

import streamlit as st

from balise.formatting import fr_int
from balise.services.labels import category_label, department_label
from dashboard import actions, charts, data, tables
from dashboard.operator_servers import watch_mailbox_form, watchable
from dashboard.programme_blocks import peer_usage_block
from dashboard.shell import act, flash, page_context

ctx = page_context("Activité")
st.caption(
    "Relevé des boîtes suivies par `balise poll` : dates, tailles et domaines des "
    "correspondants seulement, jamais l'objet ni le contenu des messages."
)
flash("watch_done")
if polled := st.session_state.pop("poll_now_report", None):
    worked, sentence = polled
    (st.success if worked else st.error)(sentence)
marker = data.activity_marker()
head = data.activity_headline(marker, ctx.actor, ctx.departments)


def _pick_for_poll(address: str) -> None:
    st.session_state["poll_pick"] = address  # « Relever maintenant » below offers the new box


with st.expander("Suivre une boîte", expanded=not head["watched"]):
    watch_mailbox_form(ctx.actor, ctx.departments, key="watch", then=_pick_for_poll)
if not head["watched"]:
    st.info(
        "Aucune boîte suivie dans ces départements : ajoutez-en une ci-dessus (« Suivre une "
        "boîte ») ou avec `balise mailbox add`, puis lancez `balise poll` (ou `balise worker`)."
    )
    st.stop()

m1, m2, m3 = st.columns(3)
m1.metric("BAL suivies", fr_int(head["watched"]))
m2.metric("BAL actives (30 jours)", fr_int(head["active_mailboxes"]))
m3.metric("Structures actives (30 jours)", fr_int(head["active_structures"]))

weekly = data.activity_weekly(marker, ctx.actor, ctx.departments)
if weekly.empty:
    st.info("Aucun message relevé sur les 12 dernières semaines.")
else:
    st.plotly_chart(charts.weekly_messages_bars(weekly), key="activity_weekly")

flows = data.activity_flows(marker, ctx.actor, ctx.departments)
if not flows.empty:
    st.plotly_chart(charts.category_sankey(flows), key="activity_sankey")
    recognised = flows[flows["use_cases"] != ""]
    if not recognised.empty:
        st.subheader("Cas d'usage reconnus")
        tables.labelled(
            recognised,
            {
                "source": "Émetteurs",
                "target": "Destinataires",
                "messages": "Messages",
                "use_cases": "Cas d'usage",
            },
        )

st.subheader("BAL équipées mais silencieuses (30 jours) : à appeler")
silent = data.activity_silent(marker, ctx.actor, ctx.departments)
if silent.empty:
    st.success("Toutes les boîtes suivies ont échangé au moins un message ce mois-ci.")
else:
    tables.labelled(
        tables.in_paris(silent, "last_activity_at").assign(
            department=silent["department"].map(department_label),
            category_code=silent["category_code"].map(category_label),
        ),
        {
            "address": "Adresse",
            "department": "Département",
            "structure": "Structure",
            "category_code": "Catégorie",
            "last_activity_at": "Dernier message",
        },
        column_config={"Dernier message": tables.day()},
    )

st.subheader("Dernière relève de chaque boîte")
status = data.activity_poll_status(marker, ctx.actor, ctx.departments)
tables.labelled(
    tables.in_paris(status, "last_poll_at", "last_activity_at").assign(
        department=status["department"].map(department_label),
        last_poll_ok=status["last_poll_ok"].map({True: "OK", False: "Échec"}).fillna("Jamais"),
        last_poll_message=status["last_poll_message"].fillna(""),
    ),
    {
        "address": "Adresse",
        "department": "Département",
        "last_poll_at": "Relevée le",
        "last_poll_ok": "État",
        "last_poll_message": "Message",
        "last_activity_at": "Dernier message",
    },
    column_config={
        "Relevée le": tables.instant(),
        "Dernier message": tables.day(),
    },
)


def _poll_now(address: str) -> None:
    department = status.loc[status["address"] == address, "department"].iloc[0]
    st.session_state["poll_now_report"] = actions.mailbox_poll_now(ctx.actor, address, department)


pollable = status[status["department"].isin(watchable(ctx.actor, ctx.departments))]
if not pollable.empty:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    picked = left.selectbox(
        "Boîte à relever", pollable["address"], key="poll_pick", placeholder="Choisir…"
    )
    if right.button("Relever maintenant", key="poll_now"):
        act(partial(_poll_now, picked), "", key="watch_done")

peer_usage_block(ctx, marker)  # the programme's « Usage comparé »
