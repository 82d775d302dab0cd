"""Click's own words in French: « Utilisation : », « Options », « Commandes », « Afficher cette
aide et quitter. », « Erreur : Commande inconnue : « x ». »...

Click marks every sentence it shows with gettext (``from gettext import gettext as _`` in each of
its modules), but gettext picks a catalogue from the user's locale variables and compiled ``.mo``
files: Balise speaks French whatever the machine's locale, so :func:`install` binds those ``_``
and ``ngettext`` names of click's modules to the catalogue below instead, and gives click's
parameter types French names (they make the metavars: ``TEXTE``, ``ENTIER``, ``NOMBRE``...).

Nothing else changes: the exit statuses stay click's (2 for a usage error). The catalogue holds
every message click marks (a test reads click's sources and fails on one added by an upgrade);
the few English words click does not mark are listed in the README's known limits.
"""

from __future__ import annotations

import gettext
import sys
from datetime import date

import click
import click.types

# Click's templates are formatted by click with the same named fields: a translation may drop a
# field (« {value!r} » becomes « « {value} » »: French quotes instead of Python's repr) but may
# not invent one.
MESSAGES: dict[str, str] = {
    # Help pages
    "Usage:": "Utilisation :",
    # Click writes « heading: »; French puts a space before the colon, so it ends the heading.
    "Options": "Options ",
    "Positional arguments": "Arguments ",
    "Commands": "Commandes ",
    "Show this message and exit.": "Afficher cette aide et quitter.",
    "Show the version and exit.": "Afficher la version et quitter.",
    "%(prog)s, version %(version)s": "%(prog)s, version %(version)s",
    "env var: {var}": "variable d'environnement : {var}",
    "default: {default}": "par défaut : {default}",
    "(dynamic)": "(calculé)",
    "required": "obligatoire",
    "deprecated": "obsolète",
    "Choice({choices})": "Choix({choices})",
    # Usage errors (exit status 2)
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Aide : « {command} {option} ».",
    "No such command {name!r}.": "Commande inconnue : « {name} ».",
    "No such option {name!r}.": "Option inconnue : « {name} ».",
    "Missing command.": "Commande manquante.",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "Missing {param_type}": "Paramètre manquant ({param_type})",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Option {name!r} does not take a value.": "L'option « {name} » ne prend pas de valeur.",
    "Argument {name!r} takes {nargs} values.": "L'argument « {name} » prend {nargs} valeurs.",
    "Invalid start character for option ({option})": "Caractère initial invalide pour "
    "l'option ({option})",
    "Value must be an iterable.": "La valeur doit être une liste.",
    "Choose from:\n\t{choices}": "Choisir parmi :\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un {number_type} valide.",
    "{value} is not in the range {range}.": "{value} n'est pas dans l'intervalle {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}": "« {value} » n'est pas "
    "un booléen valide. Valeurs reconnues : {states}",
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un UUID valide.",
    "{name} {filename!r} does not exist.": "{name} « {filename} » introuvable.",
    "{name} {filename!r} is a file.": "{name} « {filename} » : c'est un fichier.",
    "{name} {filename!r} is a directory.": "{name} « {filename} » : c'est un dossier.",
    "{name} {filename!r} is not readable.": "{name} « {filename} » : lecture impossible.",
    "{name} {filename!r} is not writable.": "{name} « {filename} » : écriture impossible.",
    "{name} {filename!r} is not executable.": "{name} « {filename} » : exécution impossible.",
    "Could not open file {filename!r}: {message}": "Impossible d'ouvrir le fichier "
    "« {filename} » : {message}",
    "file": "fichier",
    "directory": "dossier",
    "path": "chemin",
    "unknown error": "erreur inconnue",
    "Aborted!": "Abandon.",
    # Prompts and terminal
    "Do you want to continue?": "Voulez-vous continuer ?",
    "Confirm the action without prompting.": "Confirmer sans poser la question.",
    "Repeat for confirmation": "Répéter pour confirmer",
    "Error: The two entered values do not match.": "Erreur : les deux valeurs saisies diffèrent.",
    "Error: invalid input": "Erreur : saisie invalide",
    "Press any key to continue...": "Appuyez sur une touche pour continuer…",
    "{editor}: Editing failed": "{editor} : la modification a échoué",
    "{editor}: Editing failed: {e}": "{editor} : la modification a échoué : {e}",
    "d": "j",  # days in a progress bar's estimate
    "Unknown color {colour!r}": "Couleur inconnue : « {colour} »",
    "Unknown standard stream '{name}'": "Flux standard inconnu : « {name} »",
    "Windows error: {error}": "Erreur Windows : {error}",
    "Couldn't detect Bash version, shell completion is not supported.": "Version de Bash "
    "inconnue : la complétion n'est pas prise en charge.",
    "Shell completion is not supported for Bash versions older than 4.4.": "La complétion "
    "demande Bash 4.4 ou plus récent.",
    # Warnings and mistakes in a command's definition (developers read them, in French too)
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}": "Avertissement : "
    "la commande « {name} » est obsolète.{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}": "Avertissement"
    " : « {name} » ({param_type}) est obsolète.{extra_message}",
    "Could not determine name for option with declarations {decls!r}": "Impossible de "
    "nommer l'option déclarée par {decls!r}",
    "No options defined but a name was passed ({name}). Did you mean to declare an argument "
    "instead? Did you mean to pass '--{name}'?": "Aucune option déclarée mais un nom est donné "
    "({name}) : vouliez-vous déclarer un argument, ou écrire « --{name} » ?",
    "Arguments take exactly one parameter declaration, got {length}: {decls}.": "Un argument "
    "se déclare avec un seul nom ; {length} donnés : {decls}.",
    "Name '{name}' defined twice": "Nom « {name} » déclaré deux fois",
    "Boolean option {decl!r} cannot use the same flag for true/false.": "L'option booléenne "
    "{decl!r} ne peut pas prendre le même drapeau pour vrai et faux.",
}

# (singular, plural) -> French (singular, plural). Click chooses with the English rule (n == 1
# singular) and some singular templates write « 1 » literally: the French forms follow that rule.
PLURALS: dict[tuple[str, str], tuple[str, str]] = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"): (
        "Argument en trop ({args})",
        "Arguments en trop ({args})",
    ),
    ("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."): (
        "Attend {nargs} valeurs, 1 donnée.",
        "Attend {nargs} valeurs, {len} données.",
    ),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"): (
        "Vouliez-vous dire {possibility} ?",
        "(Vouliez-vous dire l'une de : {possibilities} ?)",
    ),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."): (
        "L'option « {name} » demande une valeur.",
        "L'option « {name} » demande {nargs} valeurs.",
    ),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."): (
        "« {value} » n'est pas la valeur permise : {choice}.",
        "« {value} » n'est pas l'une des valeurs permises : {choices}.",
    ),
    (
        "{value!r} does not match the format {format}.",
        "{value!r} does not match the formats {formats}.",
    ): (
        "« {value} » ne suit pas le format {format}.",
        "« {value} » ne suit aucun des formats {formats}.",
    ),
    (
        "{len_type} values are required, but {len_value} was given.",
        "{len_type} values are required, but {len_value} were given.",
    ): (
        "{len_type} valeurs sont attendues, {len_value} donnée.",
        "{len_type} valeurs sont attendues, {len_value} données.",
    ),
}

# What click derives a metavar (« --port ENTIER ») and a « n'est pas un entier valide » from.
TYPE_NAMES: dict[type[click.ParamType], str] = {
    click.types.StringParamType: "texte",
    click.types.IntParamType: "entier",
    click.types.IntRange: "entier",
    click.types.FloatParamType: "nombre",
    click.types.FloatRange: "nombre",
    click.types.BoolParamType: "booléen",
    click.types.DateTime: "date",
    click.types.File: "fichier",
}

# How click names a group's subcommand in its usage line (not gettext messages).
SUBCOMMAND_METAVAR = "COMMANDE [ARGUMENTS]..."
SUBCOMMAND_METAVARS = {
    "COMMAND [ARGS]...": SUBCOMMAND_METAVAR,
    "[COMMAND] [ARGS]...": "[COMMANDE] [ARGUMENTS]...",  # a group that also runs by itself
}


def french(message: str) -> str:
    """Click's ``_``: the French of ``message`` (itself if the catalogue lacks it)."""
    return MESSAGES.get(message, message)


def french_plural(singular: str, plural: str, n: int) -> str:
    """Click's ``ngettext``."""
    forms = PLURALS.get((singular, plural), (singular, plural))
    return forms[0] if n == 1 else forms[1]


def install() -> None:
    """Make click speak French in this process (idempotent). Only modules already loaded can be
    bound, so it first loads the two that ``import click`` leaves for later (the editor's and
    progress bar's words, shell completion's): about a millisecond."""
    import click._termui_impl
    import click.shell_completion  # noqa: F401

    for name, module in list(sys.modules.items()):
        if name != "click" and not name.startswith("click."):
            continue
        if getattr(module, "_", None) in (gettext.gettext, french):
            module._ = french
        if getattr(module, "ngettext", None) in (gettext.ngettext, french_plural):
            module.ngettext = french_plural
    for param_type, french_name in TYPE_NAMES.items():
        param_type.name = french_name


def frenchify(command: click.Command) -> None:
    """Give ``command``'s groups (and their subgroups) the French usage line."""
    if isinstance(command, click.Group):
        metavar = command.subcommand_metavar
        command.subcommand_metavar = SUBCOMMAND_METAVARS.get(metavar, metavar)
        for sub in command.commands.values():
            frenchify(sub)


class Day(click.ParamType):
    """A day written AAAA-MM-JJ, refused in French (click's DateTime would name its strftime
    format, « %Y-%m-%d », to the user)."""

    name = "date"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "AAAA-MM-JJ"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"« {value} » n'est pas une date AAAA-MM-JJ.", param, ctx)
