"""The project's exceptions. Messages are French sentences meant for users.

They are translated at the edges: the CLI prints ``Erreur : <message>`` and exits 1, pages call
``st.error(message)``. Code in between raises them and lets them travel.
"""


class BaliseError(Exception):
    """Base class: anything a user can be told about in one French sentence."""


class ConfigurationError(BaliseError):
    """Raised when a setting (environment variable, TOML file) is missing or malformed."""


class SourceError(BaliseError):
    """Raised when an input file or URL is not what it claims to be: not an extract, missing
    columns, binary data, truncated zip, empty file, unreachable URL. Nothing is written."""


class SelectionError(BaliseError):
    """Raised when a department or region selection names codes that do not exist."""


class IngestBusyError(BaliseError):
    """Raised when another ingest holds the store's write lock for longer than we wait."""


class NotFoundError(BaliseError):
    """Raised when a named object (mailbox, structure, snapshot, user) does not exist."""


class ValidationError(BaliseError):
    """Raised when user input breaks a rule; the message names the field.

    ``problems`` holds every problem found (field, sentence), the message the first one."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or [("", message)]


class PermissionDenied(BaliseError):
    """Raised when the acting user's role or departments do not allow a read or an action.

    ``audited`` turns True once its audit line is written (``balise.services.refusals``), so
    that whoever catches it next (a command's edge) does not write a second one."""

    audited: bool = False


class MailError(BaliseError):
    """Raised when talking to a mail server fails (unreachable, TLS refused, auth refused,
    timeout, folder vanished). The message says which step failed, in French."""


class SecretError(BaliseError):
    """Raised when a secret cannot be read or decrypted (missing key, wrong key, missing file)."""


class TamperingDetected(BaliseError):
    """Raised when the audit trail's hash chain does not verify: a line was changed, removed or
    slipped in. The message names the first broken link."""


class DropRefused(BaliseError):
    """Raised when an ingest would close too many of a department's current mailboxes or
    establishments (the deletion gate, ``ingest.gate``); nothing is written. ``drops``: the
    departments over the threshold (``ingest.load.snapshots.Drop``)."""

    def __init__(self, message: str, source: str, drops: list, file_name: str = ""):
        super().__init__(message)
        self.source = source
        self.drops = drops
        self.file_name = file_name
