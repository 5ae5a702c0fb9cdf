"""Languages: zh-CN first, English available; times shown in Asia/Shanghai.

Message ids are the Chinese texts; translations/en holds the English catalog. The
catalog is compiled into the instance folder when the app starts (compiled files are
not kept in the repository).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from flask import Blueprint, Flask, g, redirect, request, session
from flask_babel import Babel, get_translations
from werkzeug.wrappers import Response

from ..config import PROJECT_ROOT

LANGUAGES = {"zh_CN": "中文", "en": "English"}
SOURCE_CATALOGS = PROJECT_ROOT / "translations"
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"], default="zh_CN")
    return "en" if best == "en" else "zh_CN"


def page_translations() -> NullTranslations:
    """This request's catalog for templates, found once per request. Flask-Babel's own template callables find it
    anew for every string (a locale check and several context lookups), a tenth of a 20-row inbox page's time.
    A request renders in one language: nothing here switches locale mid-request (flask_babel.force_locale would
    need `g.page_translations` cleared)."""
    found = g.get("page_translations")
    if found is None:
        found = g.page_translations = get_translations()
    return found


def compile_catalogs(target: Path) -> Path:
    """Compile every .po under translations/ into `target` when it is newer than the .mo."""
    for po_path in SOURCE_CATALOGS.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(SOURCE_CATALOGS).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalog = read_po(source)
        partial = mo_path.with_suffix(".mo.tmp")
        with partial.open("wb") as out:
            write_mo(out, catalog)
        partial.replace(mo_path)
    return target


def init_app(app: Flask) -> None:
    compiled = compile_catalogs(Path(app.instance_path) / "translations")
    app.config.update(BABEL_DEFAULT_LOCALE="zh_CN", BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
                      BABEL_TRANSLATION_DIRECTORIES=str(compiled))
    Babel(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: page_translations().ugettext(text),
        ngettext=lambda text, plural, n: page_translations().ungettext(text, plural, n),
        newstyle=True)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=select_locale)


@bp.post("/lang/<code>")
def switch(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    target = request.referrer or "/"
    return redirect(target if target.startswith(request.host_url) or target.startswith("/") else "/")
