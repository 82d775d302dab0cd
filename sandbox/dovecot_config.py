"""The sandbox's Dovecot configuration: the template, and the variants that make the same
Dovecot behave like other operators' servers, so that the client is tested against more than
one server's habits.

Variants: ``idle=False`` announces no IDLE (nor NOTIFY) capability, so clients must poll;
``inbox_prefix="INBOX."`` puts every folder under a Cyrus/Courier-like ``INBOX.`` namespace with
"." as separator (``INBOX.Sent``, ``INBOX.Junk``); ``special_use=False`` leaves folders
unflagged; ``auto_folders=False`` creates no folder by itself (Sent, Junk, Trash exist once
created, and stay deleted).
"""

from __future__ import annotations

from pathlib import Path

from balise.mail.connection import ANS_CIPHERS  # needs the test PKI's RSA server certificate

# Dovecot 2.3.19's own post-login capabilities without IDLE and NOTIFY (no push of any kind).
NO_PUSH_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH "
    "LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ "
    "SPECIAL-USE"
)


def render_config(d: Path, ports: dict[str, int], rogue: bool) -> str:
    """The base configuration for the sandbox in directory ``d`` listening on ``ports``."""
    cert, key = ("rogue", "rogue") if rogue else ("server", "server")
    return _CONFIG.format(
        dir=d,
        cert=d / "tls" / f"{cert}.crt",
        key=d / "tls" / f"{key}.key",
        ciphers=ANS_CIPHERS,
        **{f"p_{n}": p for n, p in ports.items()},
    )


def variant_config(
    config: str, special_use: bool, idle: bool, inbox_prefix: str, auto_folders: bool
) -> str:
    """The base configuration turned into one of the variants (module docstring)."""
    dropped = ([] if special_use else ["special_use"]) + ([] if auto_folders else ["auto ="])
    config = "".join(x for x in config.splitlines(True) if not any(d in x for d in dropped))
    if inbox_prefix:
        config = config.replace(
            "  separator = /\n", f"  separator = .\n  prefix = {inbox_prefix}\n", 1
        )
    if not idle:
        config += f"imap_capability = {NO_PUSH_CAPABILITY}\n"
    return config


def oauth2_config(introspection_port: int) -> str:
    """The oauth2 passdb's settings: tokens are checked against the sandbox's token service."""
    return _OAUTH2.format(port=introspection_port)


# One setting per line, nothing after an opening brace (Dovecot's parser). Why each less usual
# line is there: see ../shared/recipes.md. Each account has its own passwd-file in users.d
# (``users.d/%u``): a shared one is re-read at most once a second.
_CONFIG = """\
protocols = imap lmtp submission
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = balise-{p_imap}
log_path = {dir}/dovecot.log
hostname = mail.sandbox.test
postmaster_address = postmaster@sandbox.test
first_valid_uid = 8
last_valid_uid = 8
auth_failure_delay = 0
auth_mechanisms = plain login external xoauth2 oauthbearer
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_ca = <{dir}/tls/ca-with-crl.pem
ssl_verify_client_cert = yes
ssl_min_protocol = TLSv1.2
ssl_cipher_list = {ciphers}
mail_location = maildir:~/Maildir:LAYOUT=fs
mail_fsync = never
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
passdb {{
  driver = static
  mechanisms = external
  args = nopassword=y
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=SHA512-CRYPT username_format=%u {dir}/users.d/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users.d/%u
  default_fields = uid=mail gid=mail home={dir}/mail/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {p_imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {p_imaps}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
}}
service imap {{
  process_limit = 2048
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {p_lmtp}
  }}
}}
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {p_submission}
  }}
  inet_listener submissions {{
    address = 127.0.0.1
    port = {p_submissions}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
default_client_limit = 4096
mail_max_userip_connections = 50
submission_relay_host = 127.0.0.1
submission_relay_port = {p_relay}
submission_relay_trusted = yes
"""

_OAUTH2 = """\
introspection_mode = post
introspection_url = http://127.0.0.1:{port}/introspect
username_attribute = username
active_attribute = active
active_value = true
"""
