"""Security headers on every response (pages, static files, the API, downloads, error pages), set here only.

X-Content-Type-Options: nosniff (a file is only ever what its type says), X-Frame-Options: DENY and
Referrer-Policy: same-origin go on everything; everything but the static files is Cache-Control: private
(pages no-store). The Content-Security-Policy lets a page run only our own
script files and stylesheets: no inline script, no inline event handler, no inline style, no plugin, no
framing by any site (clickjacking), no form sent elsewhere. Two kinds of response get their own policy:

- a drawn SVG (process diagram, document icon) carries its stylesheet in a <style> element; opened on its
  own it may apply that and nothing else (no script, no fetch);
- the API docs page (/api/v1/docs) is flask-smorest's ReDoc page: it loads ReDoc from the configured
  OPENAPI_REDOC_URL (our own copy in static/vendor/redoc) and has a <style> element; ReDoc injects its
  styles at run time, draws icons from data: URLs and starts its search worker from a blob: URL. Its
  policy allows exactly that, and still no inline script.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

BASE = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "object-src": "'none'",
        "base-uri": "'self'", "form-action": "'self'", "frame-ancestors": "'none'", "img-src": "'self' blob:"}
"""`blob:` images: the thumbnails our own script (static/forms.js) makes of photos chosen before sending."""
SVG = {"default-src": "'none'", "style-src": "'unsafe-inline'", "frame-ancestors": "'none'"}
DOCS_ENDPOINT = "api-docs.openapi_redoc"
HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def init_app(app: Flask) -> None:
    """Add the headers to every response of `app`."""
    policies = {"page": _policy(BASE), "svg": _policy(SVG), "docs": _policy(_docs(app.config["OPENAPI_REDOC_URL"]))}

    @app.after_request
    def secure(response: Response) -> Response:
        if response.mimetype == "image/svg+xml":
            kind = "svg"
        else:
            kind = "docs" if request.endpoint == DOCS_ENDPOINT else "page"
        response.headers["Content-Security-Policy"] = policies[kind]
        response.headers.update(HEADERS)
        if app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS: browsers must never fall back to HTTP
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":
            _keep_private(response)
        return response


def _keep_private(response: Response) -> None:
    """What the app serves is someone's data: no shared cache keeps it; pages are not kept at all.

    A response that set its own lifetime (evidence, immutable by its hash: a day in the user's own
    browser) keeps it; everything else is no-store (a phone in a shared locker, the back button after
    sign-out).
    """
    response.cache_control.private = True
    response.cache_control.public = False
    if response.cache_control.max_age is None and not response.cache_control.no_cache:
        response.cache_control.no_store = True


def _docs(viewer_url: str) -> dict[str, str]:
    """The docs page's policy: ReDoc's script from wherever it is configured (our own origin once it is local)."""
    parts = urlsplit(viewer_url)
    origin = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return {**BASE, "script-src": f"'self'{origin}", "style-src": "'self' 'unsafe-inline'",
            "img-src": "'self' data:", "worker-src": "blob:"}


def _policy(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())
