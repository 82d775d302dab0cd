"""Écrire au patient: check an INS and show the patient's MSSanté address, as MonSisra does.

Nothing is stored, cached or logged: the number lives only in this session's text field."""

import streamlit as st

from balise.errors import BaliseError
from balise.referentials.ins import check_ins

st.title("Écrire au patient")
st.caption(
    "L'adresse MSSanté d'un patient est son INS (15 caractères) suivi de @patient.mssante.fr. "
    "Le patient lit et répond depuis Mon espace santé ; seul un professionnel peut écrire le "
    "premier message. Rien de ce qui est saisi ici n'est enregistré."
)
number = st.text_input(
    "INS du patient", max_chars=40, placeholder="15 caractères, ex. 2 85 03 77 …"
)
if number.strip():
    try:
        result = check_ins(number)
    except BaliseError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.success(f"Vous vous apprêtez à écrire à : {result.sentence()}.", icon=":material/check:")
        for warning in result.warnings:
            st.warning(warning, icon=":material/warning:")
        st.code(result.address, language=None)
        st.caption(
            "Messages vers Mon espace santé : 25 Mo au plus. Pour clore l'échange, l'en-tête "
            "X-MSS-MES: FIN."
        )
