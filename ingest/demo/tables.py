"""The demo world's fixed tables: dates and file names, volumes, injected quirks, category
profiles, name pieces and professions. Pure data, no randomness (the draws are in world.py)."""

from __future__ import annotations

from dataclasses import dataclass

# Fixed dates: monthly snapshots generated at 03:12 (the hour the ANS file usually appears).
SNAPSHOT_STAMPS: tuple[str, ...] = ("202608010312", "202609010312", "202610010312", "202611010312")
NATIONAL_STAMP = "202611010312"
FINESS_DATE = "2026-10-15"
FINESS_FILE = "etalab-cs1100507-stock-20261015-0412.csv"
FINESS_JSON_FILE = "finess-structures-journalier-20261015.json"
# Third field of the metadata line: a version number in real files (96, 98, 106, 111 seen).
FINESS_VERSION = "112"
GEO_SOURCE = "2,ATLASANTE,53,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)"

# Quirks injected in every directory extract (the readers' rejected counts are checked on these).
BAD_LINES_PER_EXTRACT = 6  # 2 wrong field counts, 2 unknown type "XYZ", 2 addresses without @
DUPLICATE_RATE = 170 / 536_000  # ~170 duplicated addresses nationally (domain doc)
EMPTY_DEPARTMENT_RATE = 0.004
WRONG_KEY_FINESS = 2  # establishments whose FINESS number fails the Luhn check

NATIONAL_FINESS = 103_000
NATIONAL_PER, NATIONAL_ORG, NATIONAL_CAB = 455_000, 80_000, 100
REGIONAL_PER, REGIONAL_ORG, REGIONAL_CAB = 31_000, 5_200, 40

# --------------------------------------------------------------------------- reference tables

# Approximate populations (millions) of the ARA departments: FINESS and directory volumes follow
# them. Other departments get a deterministic pseudo-random weight.
ARA_WEIGHTS = {
    "01": 0.67, "03": 0.33, "07": 0.33, "15": 0.14, "26": 0.52, "38": 1.28,
    "42": 0.77, "43": 0.23, "63": 0.67, "69": 1.90, "73": 0.44, "74": 0.84,
}  # fmt: skip

# FINESS number prefixes overseas (seen in real files: 9701.. Guadeloupe, 9805.. Mayotte...).
OVERSEAS_PREFIX = {"971": "9701", "972": "9702", "973": "9703", "974": "9704", "976": "9805",
                    "986": "9806"}  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """How many mailboxes an equipped structure of a category has, and how likely it is equipped."""

    regional: int  # establishments in ARA (scale 1)
    national: int  # relative weight nationally (scaled to NATIONAL_FINESS)
    equip: float  # ESMS: multiplies the department base rate; partners: the rate itself
    org: tuple[int, int] = (1, 3)
    per: tuple[int, int] = (0, 2)
    app: float = 0.12
    cab: float = 0.02
    profession: str = "60"  # profession of the PER mailboxes attached to the structure


# Category code -> profile. Codes not listed (added later to data/categories_finess.csv) get
# DEFAULT_PROFILE. Counts: plausible orders of magnitude, EHPAD the most numerous ESMS.
PROFILES: dict[str, Profile] = {
    "500": Profile(620, 7400, 1.25, (1, 4), (0, 3), 0.2, 0.02, "10"),
    "501": Profile(40, 900, 0.9, (1, 2), (0, 1)),
    "354": Profile(120, 2100, 1.15, (1, 3), (0, 2)),
    "460": Profile(380, 8000, 0.45, (1, 2), (0, 1), 0.05),
    "209": Profile(35, 500, 0.8),
    "190": Profile(30, 350, 1.0, (1, 3), (0, 2), 0.1, 0.02, "10"),
    "183": Profile(110, 1250, 0.9),
    "182": Profile(150, 1900, 0.8),
    "186": Profile(30, 450, 0.7),
    "188": Profile(15, 200, 0.8),
    "189": Profile(30, 400, 0.6, (1, 2), (0, 2), 0.05, 0.02, "10"),
    "246": Profile(130, 1450, 0.5, (1, 2), (0, 0)),
    "255": Profile(45, 720, 1.1),
    "437": Profile(15, 300, 0.9),
    "448": Profile(70, 1000, 1.0),
    "449": Profile(180, 3000, 0.6, (1, 2), (0, 1)),
    "445": Profile(30, 450, 0.9),
    "446": Profile(90, 1400, 0.5, (1, 2), (0, 0)),
    "606": Profile(0, 0, 1.6, (2, 5), (1, 4), 0.3),  # one DAC per department, see allocate
    "620": Profile(800, 20500, 0.75, (0, 1), (1, 2), 0.0, 0.0, "21"),
    "355": Profile(60, 1000, 0.95, (4, 12), (15, 60), 0.3, 0.0, "10"),
    "101": Profile(4, 32, 1.0, (20, 40), (120, 250), 0.5, 0.0, "10"),
    "106": Profile(20, 250, 0.9, (2, 5), (5, 15), 0.1, 0.0, "10"),
    "124": Profile(60, 3000, 0.6, (1, 1), (2, 8), 0.0, 0.05, "10"),
    "603": Profile(110, 2600, 0.8, (0, 1), (3, 10), 0.0, 0.05, "10"),
    "223": Profile(60, 5000, 0.5, (1, 2), (0, 2), 0.0, 0.0, "50"),
    # Categories outside data/categories_finess.csv, present in any real FINESS file.
    "340": Profile(30, 2000, 0.2, (1, 1), (0, 0), 0.0),
    "462": Profile(20, 700, 0.2, (1, 1), (0, 0), 0.0),
    "146": Profile(15, 1300, 0.3, (1, 1), (0, 1), 0.0, 0.0, "60"),
}
DEFAULT_PROFILE = Profile(10, 200, 0.7)
PARTNERS = {"620", "355", "101", "106", "124", "603", "223", "340", "462", "146"}

# Labels of the categories outside data/categories_finess.csv (as in real files).
EXTRA_LABELS = {
    "340": "Service mandataire judiciaire à la protection des majeurs",
    "462": "Lieux de Vie et d'Accueil",
    "146": "Structure d'Alternative à la dialyse en centre",
}
# categagretab, libcategagretab, codeape, codemft, libmft, codesph, libsph (illustrative values
# in the real style; readers do not use them).
AGGREGATES = {
    "Personnes âgées": ("4401", "Etablissements d'Hébergement pour Personnes Âgées", "8710A", "40",
                        "ARS/PCD, Tarif global, habilité aide sociale, recours PUI"),
    "Domicile": ("4403", "Services de Soins et d'Aide à Domicile", "8810A", "34",
                 "ARS forfait global SSIAD"),
    "Enfance handicapée": ("4106", "Services à Domicile ou Ambulatoires pour Handicapés", "8891B",
                           "05", "ARS PCD dotation globale"),
    "Adultes handicapés": ("4302", "Etab. et Services pour Adultes Handicapés", "8710B", "57",
                           "DGS ARS & hébergement PCD - sous CPOM"),
    "Coordination": ("2206", "Dispositifs d'appui à la coordination", "8899B", "99", "Indéterminé"),
    "Partenaires": ("1102", "Centres Hospitaliers", "8610Z", "03",
                    "ARS établissements Publics de santé dotation globale"),
}  # fmt: skip

SIGLES_LONG = {"500": "Ehpad", "354": "Ssiad", "460": "Service autonomie aide"}

# --------------------------------------------------------------------------- name pieces

SURNAME_STARTS = ("Balis", "Démo", "Fictiv", "Lorem", "Quidam", "Simul", "Factic", "Synthé",
                   "Exempl", "Brouill", "Maquet", "Prototyp", "Ipsum", "Essai", "Modél",
                   "Pseud", "Imagin", "Chimér", "Fabul", "Songe")  # fmt: skip
SURNAME_ENDS = ("ard", "eau", "ier", "on", "elle", "ot", "in", "ac", "ière", "az", "oux",
                 "and", "et", "ey", "ille", "ès")  # fmt: skip
FIRST_NAMES = ("Camille", "Lucie", "Hugo", "Hélène", "Jérôme", "Anaïs", "Zoé", "Noël", "Maëlle",
                "Célia", "Théo", "Éloïse", "Louis", "Manon", "Nathan", "Inès", "Paul", "Léa",
                "Julien", "Chloé", "Thomas", "Sarah", "Antoine", "Emma", "Nicolas", "Clara",
                "Mathieu", "Agnès", "Benoît", "Margaux", "Rémi", "Juliette", "Yanis", "Sophie",
                "François", "Aurélie", "Gaëtan", "Nadia", "Olivier", "Bérénice")  # fmt: skip
PLACE_HEADS = ("Saint-", "", "", "", "Le ", "La ", "Mont-", "Val-")
PLACE_ROOTS = ("Balisan", "Démolin", "Fictigny", "Simulac", "Loremval", "Quidamont",
                "Essaiville", "Maquetour", "Exemplaz", "Prototy", "Chimèrac", "Fabulay",
                "Songeval", "Brouillac", "Imaginy", "Pseudoux", "Modélès", "Factice")  # fmt: skip
PLACE_TAILS = ("", "", "", "", "", "", "", "", "-les-Bains", "-le-Haut", "-la-Forêt",
                "-d'Amont")  # fmt: skip
ESMS_NAMES = ("Les Tilleuls", "Les Glycines", "Le Clos Fleuri", "La Roseraie", "Les Écureuils",
               "Le Val Doré", "Les Lilas", "La Source", "Les Cèdres", "L'Orée du Bois",
               "Les Jardins d'Hélios", "Le Belvédère", "Les Myosotis", "La Chênaie",
               "Les Trois Sapins", "Le Moulin", "Les Hirondelles", "La Clairière")  # fmt: skip
STREETS = ("DES TILLEULS", "DU MOULIN", "DE LA GARE", "DES ÉCOLES", "DU STADE", "DE L'ÉGLISE",
            "DES VIGNES", "DU PRÉ FLEURI", "DE LA RÉPUBLIQUE", "DES ACACIAS", "DU LAVOIR",
            "DES CERISIERS", "DE LA FONTAINE", "DU CHÂTEAU", "DES PEUPLIERS")  # fmt: skip
STREET_TYPES = ("R", "R", "R", "AV", "BD", "CHE", "PL", "RTE", "ALL", "IMP")
ORG_SERVICES = (("secretariat", "Secrétariat"), ("infirmerie", "Infirmerie"),
                 ("direction", "Direction"), ("accueil", "Accueil"),
                 ("pole-soins", "Pôle soins"), ("admissions", "Admissions"),
                 ("equipe-soignante", "Équipe soignante"), ("coordination", "Coordination"),
                 ("cadre-sante", "Cadre de santé"))  # fmt: skip
HOSPITAL_SERVICES = (("urgences", "Urgences"), ("geriatrie", "Gériatrie"),
                      ("pui", "Pharmacie à usage intérieur"), ("entrees", "Bureau des entrées"),
                      ("cardiologie", "Cardiologie"), ("smr", "SMR"), ("imagerie", "Imagerie"),
                      ("laboratoire", "Laboratoire"), ("pediatrie", "Pédiatrie"),
                      ("maternite", "Maternité"), ("psychiatrie", "Psychiatrie"),
                      ("oncologie", "Oncologie"), ("chirurgie", "Chirurgie"),
                      ("court-sejour-geriatrique", "Court séjour gériatrique"))  # fmt: skip
OTHER_ORG_KINDS = ("LABORATOIRE DE BIOLOGIE", "CENTRE D'IMAGERIE", "CLINIQUE", "CABINET DE RADIOLOGIE",
                    "CENTRE DE DIALYSE", "SOS MÉDECINS")  # fmt: skip

# Professions: code, label, operator domain, weight among liberal mailboxes, civility, savoir-faire
# (codes illustrative), identifier kind ("8" RPPS, "0" ADELI).
PROFESSIONS = (
    ("10", "Médecin", "medecin.mssante.fr", 45, "DR", (("SM54", "Médecine Générale"),
                                                       ("SM26", "Gériatrie"), ("SM40", "Pédiatrie"),
                                                       ("SM04", "Cardiologie"), ("", ""), ("", ""),
                                                       ("", ""))),
    ("21", "Pharmacien", "pharmacien.mssante.fr", 6, "DR", (("", ""),)),
    ("60", "Infirmier", "infirmier.mssante.fr", 22, "", (("", ""),)),
    ("70", "Masseur-Kinésithérapeute", "masseur-kinesitherapeute.mssante.fr", 12, "", (("", ""),)),
    ("40", "Chirurgien-Dentiste", "chirurgien-dentiste.mssante.fr", 7, "DR", (("", ""),)),
    ("50", "Sage-Femme", "sage-femme.mssante.fr", 5, "", (("", ""),)),
    ("80", "Pédicure-Podologue", "pedicure-podologue.mssante.fr", 2, "", (("", ""),)),
    ("91", "Orthophoniste", "orthophoniste.mssante.fr", 1, "", (("", ""),)),
)  # fmt: skip
PROFESSION_BY_CODE = {p[0]: p for p in PROFESSIONS}
ADELI_PROFESSIONS = {"91"}


# --------------------------------------------------------------------------- FINESS establishments

EJ_OWN = {"620", "124", "603", "101", "355", "106", "606", "146"}  # each is its own legal entity
HOSPITALS = ("101", "355", "106")


FIXED_NAMES = {
    "355": ("CH de {city}", "Centre hospitalier de {city}"),
    "101": ("CHU de {city}", "Centre hospitalier universitaire de {city}"),
    "106": ("CH de proximité de {city}", "Centre hospitalier de proximité de {city}"),
    "124": ("Centre de santé de {city}", "Centre de santé municipal de {city}"),
    "603": ("MSP de {city}", "Maison de santé pluriprofessionnelle de {city}"),
    "223": ("PMI de {city}", "Centre de PMI de {city}"),
    "606": ("DAC {dep}", "Dispositif d'appui à la coordination {dep}"),
    "146": ("Unité d'autodialyse de {city}", "Unité d'autodialyse de {city}"),
}
OTHER_SIGLES = {"340": "Mandataire", "462": "Lieu de vie"}
