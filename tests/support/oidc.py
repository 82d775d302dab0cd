"""A minimal OpenID Connect provider on 127.0.0.1 for the login tests (authorization code flow
with PKCE, RS256 ID tokens): discovery, JWKS, an authorize endpoint with a sign-in form, and a
token endpoint that checks the client secret, the redirect URI and the code verifier.

Streamlit's ``st.login`` (through Authlib) talks to it exactly as to Pro Santé Connect or a
regional SSO. ``users`` maps the login typed in the form to the claims of the ID token."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.ports import free_port

CLIENT_ID = "balise-test"
CLIENT_SECRET = secrets.token_urlsafe(24)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class Provider:
    port: int
    users: dict[str, dict]
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = "balise-test-key"
    codes: dict[str, dict] = field(default_factory=dict)
    token_requests: list[dict] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict:
        pub = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid}
        return {"keys": [jwk | {"n": _int_b64(pub.n), "e": _int_b64(pub.e)}]}

    def id_token(self, claims: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def issue_code(self, login: str, params: dict) -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"login": login, **params}
        return code

    def exchange(self, form: dict, basic: tuple[str, str] | None) -> tuple[int, dict]:
        """The token endpoint: (HTTP status, JSON body)."""
        self.token_requests.append(form)
        client = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant.get("code_challenge"):
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
            "sub": grant["login"], "nonce": grant.get("nonce"), **self.users[grant["login"]],
        }  # fmt: skip
        body = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                "expires_in": 300, "id_token": self.id_token(claims)}  # fmt: skip
        return 200, body


def _handler(provider: Provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/.well-known/openid-configuration":
                return self._json(200, provider.discovery())
            if url.path == "/jwks":
                return self._json(200, provider.jwks())
            if url.path == "/authorize":
                return self._form({k: v[0] for k, v in parse_qs(url.query).items()})
            self._json(404, {"error": "not_found"})

        def _form(self, params: dict) -> None:
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
            )
            page = (
                "<!doctype html><title>Fournisseur OIDC de test</title><form method=post>"
                f'<label>Identifiant <input name="login" id="login"></label>{hidden}'
                '<button type="submit" id="signin">Valider</button></form>'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def _read_form(self) -> dict:
            length = int(self.headers.get("Content-Length", 0))
            return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

        def do_POST(self) -> None:
            form = self._read_form()
            if urlparse(self.path).path == "/token":
                return self._json(*provider.exchange(form, self._basic()))
            login = form.pop("login", "")
            if login not in provider.users or form.get("client_id") != CLIENT_ID:
                return self._json(403, {"error": "access_denied"})
            code = provider.issue_code(login, form)
            query = urlencode({"code": code, "state": form.get("state", "")})
            self.send_response(302)
            self.send_header("Location", f"{form['redirect_uri']}?{query}")
            self.end_headers()

        def _basic(self) -> tuple[str, str] | None:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                return None
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password

    return Handler


def start_provider(users: dict[str, dict]) -> Provider:
    """Serve the provider in a thread; stop it with ``stop_provider``."""
    provider = Provider(free_port(), users)
    provider.server = ThreadingHTTPServer(("127.0.0.1", provider.port), _handler(provider))
    threading.Thread(target=provider.server.serve_forever, daemon=True).start()
    return provider


def stop_provider(provider: Provider) -> None:
    if provider.server is not None:
        provider.server.shutdown()
        provider.server.server_close()


def secrets_toml(provider: Provider, cookie_secret: str) -> str:
    """The ``[auth]`` section of .streamlit/secrets.toml for this provider."""
    return (
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.issuer}/.well-known/openid-configuration"\n'
    )
