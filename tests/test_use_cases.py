"""The seed's use cases as data: they name the categories of each side, give the round-trip
test messages their text, and label exchange flows between categories."""

from balise.mail.probe_message import load_use_cases
from balise.referentials.categories import load_categories
from balise.referentials.use_cases import flow_use_cases, use_case_flows


def test_every_category_code_exists_and_every_case_has_a_template():
    known = set(load_categories())
    flows = use_case_flows()
    assert [f.id for f in flows] == list(load_use_cases())
    for flow in flows:
        assert flow.senders and flow.recipients
        assert flow.senders | flow.recipients <= known, flow.id
    assert all("aucune donnée de patient" in c.template for c in load_use_cases().values())


def test_flows_are_labelled_in_both_directions():
    assert flow_use_cases("500", "620") == [
        "Transmission d'une prescription de l'EHPAD à sa pharmacie"
    ]
    assert flow_use_cases("354", "606") == [
        "Demande d'intervention du SSIAD par le DAC"
    ]  # the answer
    assert flow_use_cases("101", "500") == [
        "Entrée en EHPAD depuis l'hôpital",
        "Envoi du DLU aux urgences depuis l'EHPAD",
    ]
    assert flow_use_cases("190", "603") == [
        "Orientation et demande d'évaluation entre le CAMSP et la médecine de ville"
    ]
    assert flow_use_cases("500", "354") == []
