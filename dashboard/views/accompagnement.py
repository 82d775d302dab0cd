"""Accompagnement: each structure's way from first contact to regular use. A board per
department (one column per stage), the funnel, « À relancer », and the follow-up of one
structure (stage by hand, next action, notes, referent animator)."""

from datetime import date
from functools import partial

import streamlit as st

from balise.formatting import fr_int
from balise.services.labels import category_label, department_label
from balise.services.onboarding import STAGES
from balise.services.onboarding_actions import FollowUp
from dashboard import actions, animation_data, charts, tables
from dashboard.programme_blocks import priorities_block
from dashboard.referents import referents_block
from dashboard.shell import act, flash, page_context

ctx = page_context("Accompagnement des structures")
st.caption(
    "Les étapes avancent seules d'après les faits (BAL dans l'annuaire ou provisionnée, test "
    "réussi, messages échangés) à chaque import, relève ou passage du service de fond, et à la "
    "main ; une étape n'est jamais reculée automatiquement."
)
marker = animation_data.animation_marker()


referents_block(ctx.departments)
funnel = animation_data.onboarding_funnel(marker, ctx.actor, ctx.departments)
if not funnel.empty:
    st.plotly_chart(charts.onboarding_funnel(funnel), key="onboarding_funnel")

board_tab, late_tab, call_tab, follow_tab = st.tabs(
    ["Tableau par étape", "À relancer", "Qui appeler d'abord", "Suivi d'une structure"]
)
with call_tab:  # the programme's « Qui appeler d'abord »
    priorities_block(ctx)

BOARD = {"name": "Structure", "city": "Commune", "category_code": "Catégorie", "stage": "Étape",
         "next_action": "Prochaine action", "next_action_on": "Pour le",
         "assigned_to": "Suivie par"}  # fmt: skip

with board_tab:
    department = st.selectbox(
        "Département",
        ctx.departments,
        format_func=department_label,
        key="ob_dep",
        placeholder="Choisir…",
    )
    board = animation_data.onboarding_board(marker, ctx.actor, department)
    for column, (stage, label) in zip(st.columns(len(STAGES)), STAGES.items(), strict=True):
        column.markdown(f"**{label}** ({fr_int((board['stage'] == stage).sum())})")
    # One wide table rather than a narrow one per stage: names are read whole.
    stages = st.multiselect("Étapes affichées", list(STAGES), format_func=STAGES.get,
                            key="ob_stages", placeholder="Toutes les étapes", select_all=False)  # fmt: skip
    part = board[board["stage"].isin(stages)] if stages else board
    part = part.assign(order=part["stage"].map(list(STAGES).index)).sort_values(
        ["order", "name"], kind="stable"
    )
    tables.labelled(
        part.assign(stage=part["stage"].map(STAGES),
                    category_code=part["category_code"].map(category_label)),
        BOARD, empty="Aucune structure à ces étapes dans ce département.", key="ob_board",
        column_config={"Structure": st.column_config.TextColumn(width="large")},
    )  # fmt: skip

with late_tab:
    late = animation_data.onboarding_overdue(marker, ctx.actor, ctx.departments)
    if late.empty:
        st.success("Rien à relancer : aucune action en retard, aucune structure équipée muette.")
    else:
        tables.labelled(
            late.assign(
                department=late["department"].map(department_label),
                stage=late["stage"].map(STAGES),
            ),
            {
                "due": "Échéance",
                "name": "Structure",
                "department": "Département",
                "stage": "Étape",
                "reason": "Motif",
                "assigned_to": "Suivie par",
            },
            column_config={"Échéance": st.column_config.DateColumn(format="DD/MM/YYYY")},
        )


def _text(value) -> str:
    """pandas turns the missing values of a text column into NaN."""
    return value if isinstance(value, str) else ""


def _follow_up(row, department: str) -> None:
    """Forms for one structure: move it, plan the next action."""
    names = ["", *animation_data.referents((department,))["name"].tolist()]
    with st.form("ob_move"):
        stage = st.selectbox("Nouvelle étape", list(STAGES), index=list(STAGES).index(row.stage),
                             format_func=STAGES.get, placeholder="Choisir…")  # fmt: skip
        reason = st.text_input("Motif (facultatif)", max_chars=255)
        if st.form_submit_button("Changer d'étape"):
            _act(lambda: actions.onboarding_move(ctx.actor, row.finess_et, stage, reason or None),
                 f"Étape enregistrée : {STAGES[stage]}.")  # fmt: skip
    with st.form("ob_plan"):
        action = st.text_input("Prochaine action", value=_text(row.next_action), max_chars=255)
        when = st.date_input(
            "Pour le",
            value=row.next_action_on if isinstance(row.next_action_on, date) else None,
            format="DD/MM/YYYY",
        )
        assigned = row.assigned_to if row.assigned_to in names else ""
        who = st.selectbox("Suivie par", names, index=names.index(assigned),
                           format_func=lambda n: n or "Personne",
                           placeholder="Choisir…")  # fmt: skip
        notes = st.text_area("Notes (jamais de données de patient)", value=_text(row.notes))
        if st.form_submit_button("Enregistrer le suivi"):
            plan = FollowUp(action, when, notes, who)
            _act(
                lambda: actions.onboarding_plan(ctx.actor, row.finess_et, plan), "Suivi enregistré."
            )


_act = partial(act, key="ob_done")


with follow_tab:
    flash("ob_done")
    # Its own department: the follow-up never depends on a choice made in another tab.
    follow_department = st.selectbox(
        "Département",
        ctx.departments,
        format_func=department_label,
        key="ob_follow_dep",
        placeholder="Choisir…",
    )
    followed = animation_data.onboarding_board(marker, ctx.actor, follow_department)
    labels = {r.finess_et: f"{r.name} – {r.city} ({r.finess_et})" for r in followed.itertuples()}
    chosen = st.selectbox("Structure", list(labels), format_func=labels.get, key="ob_structure",
                          index=None, placeholder="Choisir une structure (nom, commune, FINESS)")  # fmt: skip
    if chosen:
        row = next(followed[followed["finess_et"] == chosen].itertuples())
        st.markdown(
            f"Étape actuelle : **{STAGES[row.stage]}** · {category_label(row.category_code)}"
        )
        _follow_up(row, follow_department)
        history = animation_data.onboarding_history(marker, ctx.actor, chosen)
        if not history.empty:
            tables.labelled(
                tables.in_paris(history, "at").assign(
                    from_stage=history["from_stage"].map(STAGES),
                    to_stage=history["to_stage"].map(STAGES),
                    source=history["source"].map({"auto": "Automatique", "manuel": "Manuel"}),
                ),
                {
                    "at": "Date",
                    "from_stage": "De",
                    "to_stage": "Vers",
                    "source": "Origine",
                    "reason": "Motif",
                    "actor": "Par",
                },
                column_config={"Date": tables.instant()},
            )
