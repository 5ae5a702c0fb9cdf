"""A small OpenID Connect provider for the tests, built with Authlib's server side and served over real HTTP.

Discovery, JWKS, authorize and token endpoints on 127.0.0.1 in a thread; the authorization code flow
with PKCE (S256 required: a request without it is refused) and the OpenID Connect code grant, ID tokens
signed with an RSA key made here. `authorize` approves at once as `subject` (the person signed in at the
provider). `misbehave` makes it issue a wrong token: "audience" (for another client, naming us as the
authorized party, which Authlib alone lets through), "signature" (signed with a key it never published),
"issuer" (another issuer's name), "expired" (expired ten minutes ago), "nonce" (another request's nonce).

Authlib's own key helpers (authlib.jose) are deprecated since 1.7 in favour of joserfc, which Authlib
itself uses: the key is a joserfc RSAKey.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "workflow-app"
CLIENT_SECRET = "provider-test-secret"
REDIRECT_URI = "http://localhost/sign-in/oidc/callback"
"""Where the Flask test client's app (host localhost) receives the browser back."""


@dataclass
class Client(ClientMixin):
    """The one registered client: our app, a confidential client with a fixed redirect URI."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return REDIRECT_URI

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == REDIRECT_URI

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code:
    """An authorization code and what it was issued for."""

    code: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    subject: str
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Provider:
    """The provider, its key and its switches; `start()` serves it, `stop()` ends it."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"}, private=True)
        self.stranger_key = RSAKey.generate_key(2048, parameters={"kid": "test-key"}, private=True)
        self.subject = "sso-alice"
        self.misbehave: str | None = None
        self.codes: dict[str, Code] = {}
        self.token_calls = 0
        self.app = _app(self)
        self._http = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self) -> Provider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._thread.join(5)

    def reset(self) -> None:
        self.subject, self.misbehave, self.token_calls = "sso-alice", None, 0
        self.codes.clear()


def _app(provider: Provider) -> Flask:
    app = Flask("test_oidc_provider")
    server = AuthorizationServer(app, query_client=lambda cid: Client() if cid == CLIENT_ID else None,
                                 save_token=lambda token, req: None)
    server.register_grant(_code_grant(provider), [_openid(provider)(require_nonce=True), CodeChallenge(required=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(issuer=provider.issuer, authorization_endpoint=f"{provider.issuer}/authorize",
                       token_endpoint=f"{provider.issuer}/token", jwks_uri=f"{provider.issuer}/jwks",
                       response_types_supported=["code"], subject_types_supported=["public"],
                       id_token_signing_alg_values_supported=["RS256"],
                       code_challenge_methods_supported=["S256"])

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(KeySet([provider.key]).as_dict(private=False))

    @app.get("/authorize")
    def authorize() -> Any:
        if request.args.get("code_challenge_method") != "S256":
            return jsonify(error="invalid_request", error_description="PKCE S256 required"), 400
        grant = server.get_consent_grant(end_user=provider.subject)
        return server.create_authorization_response(grant=grant, grant_user=provider.subject)

    @app.post("/token")
    def token() -> Any:
        provider.token_calls += 1
        return server.create_token_response()

    return app


def _code_grant(provider: Provider) -> type[grants.AuthorizationCodeGrant]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            provider.codes[code] = Code(code, req.payload.redirect_uri, req.payload.scope, data.get("nonce"),
                                        data.get("code_challenge"), data.get("code_challenge_method"), req.user)

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            return provider.codes.get(code)

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: Code) -> str:
            return authorization_code.subject

    return CodeGrant


def _openid(provider: Provider) -> type[OpenIDCode]:
    class Extension(OpenIDCode):
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return any(code.nonce == nonce for code in provider.codes.values())

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            return provider.stranger_key if provider.misbehave == "signature" else provider.key

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            issuer = "http://127.0.0.1:1/elsewhere" if provider.misbehave == "issuer" else provider.issuer
            claims: dict[str, Any] = {"iss": issuer, "aud": [CLIENT_ID]}
            if provider.misbehave == "audience":
                claims.update(aud=["another-client"], azp=CLIENT_ID)
            if provider.misbehave == "expired":
                claims.update(iat=int(time.time()) - 4200, exp=int(time.time()) - 600)
            return claims

        def get_authorization_code_claims(self, authorization_code: Code) -> dict[str, Any]:
            claims = super().get_authorization_code_claims(authorization_code)
            return {**claims, "nonce": "another-nonce"} if provider.misbehave == "nonce" else claims

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": "test-key"}

        def generate_user_info(self, user: str, scope: str) -> UserInfo:
            return UserInfo(sub=user)

    return Extension
