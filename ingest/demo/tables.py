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

# Where the demo places its establishments: about the prefecture of each metropolitan
# department (latitude, longitude in degrees, rounded), and how far around it (degrees). The
# demo FINESS CSV writes these points in Lambert-93 (its geolocalisation lines); overseas
# establishments get none (the real file uses local UTM systems there, left unplaced).
DEPARTMENT_CENTRES = {
    "01": (46.205, 5.226), "02": (49.564, 3.620), "03": (46.566, 3.333), "04": (44.092, 6.236),
    "05": (44.559, 6.078), "06": (43.703, 7.266), "07": (44.735, 4.599), "08": (49.773, 4.720),
    "09": (42.965, 1.607), "10": (48.297, 4.074), "11": (43.213, 2.349), "12": (44.350, 2.575),
    "13": (43.296, 5.370), "14": (49.183, -0.371), "15": (44.926, 2.440), "16": (45.649, 0.156),
    "17": (46.160, -1.151), "18": (47.081, 2.398), "19": (45.267, 1.771), "21": (47.322, 5.041),
    "22": (48.514, -2.765), "23": (46.171, 1.871), "24": (45.184, 0.721), "25": (47.238, 6.024),
    "26": (44.933, 4.892), "27": (49.024, 1.151), "28": (48.446, 1.489), "29": (47.996, -4.102),
    "2A": (41.919, 8.738), "2B": (42.697, 9.450), "30": (43.837, 4.360), "31": (43.605, 1.444),
    "32": (43.646, 0.586), "33": (44.838, -0.579), "34": (43.611, 3.877), "35": (48.117, -1.678),
    "36": (46.811, 1.686), "37": (47.394, 0.685), "38": (45.188, 5.724), "39": (46.675, 5.555),
    "40": (43.890, -0.500), "41": (47.586, 1.336), "42": (45.440, 4.387), "43": (45.043, 3.885),
    "44": (47.218, -1.554), "45": (47.903, 1.909), "46": (44.448, 1.441), "47": (44.203, 0.616),
    "48": (44.518, 3.500), "49": (47.478, -0.563), "50": (49.116, -1.091), "51": (48.957, 4.365),
    "52": (48.111, 5.139), "53": (48.073, -0.770), "54": (48.692, 6.184), "55": (48.773, 5.160),
    "56": (47.658, -2.760), "57": (49.120, 6.176), "58": (46.990, 3.159), "59": (50.629, 3.057),
    "60": (49.430, 2.081), "61": (48.432, 0.091), "62": (50.291, 2.777), "63": (45.778, 3.087),
    "64": (43.295, -0.371), "65": (43.233, 0.078), "66": (42.699, 2.895), "67": (48.573, 7.752),
    "68": (48.079, 7.358), "69": (45.764, 4.836), "70": (47.622, 6.155), "71": (46.306, 4.828),
    "72": (48.006, 0.199), "73": (45.564, 5.918), "74": (45.899, 6.129), "75": (48.857, 2.352),
    "76": (49.443, 1.100), "77": (48.540, 2.660), "78": (48.801, 2.130), "79": (46.323, -0.459),
    "80": (49.894, 2.296), "81": (43.929, 2.148), "82": (44.018, 1.355), "83": (43.124, 5.928),
    "84": (43.949, 4.806), "85": (46.670, -1.426), "86": (46.580, 0.340), "87": (45.834, 1.261),
    "88": (48.173, 6.449), "89": (47.798, 3.567), "90": (47.640, 6.863), "91": (48.629, 2.441),
    "92": (48.892, 2.207), "93": (48.908, 2.440), "94": (48.790, 2.455), "95": (49.036, 2.076),
}  # fmt: skip
SMALL_DEPARTMENTS = frozenset({"75", "92", "93", "94"})  # Paris and its inner ring
SPREAD_DEGREES, SMALL_SPREAD_DEGREES = 0.15, 0.03
