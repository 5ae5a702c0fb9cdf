"""/checklists and /self-inspections: departments build checklists; enterprises walk, submit and sign them."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..services import self_inspections as walks
from ..services import standards
from ..services.errors import ConflictError, InvalidInputError
from ..services.evidence import Photo, Uploads, check_photo
from ..services.staged_uploads import StagedUploads
from ..store.models import Checklist, ChecklistItem, Sector, SelfInspection
from .context import app_services, me, now, today, unit_of_work
from .downloads import send_evidence
from .forms import keep_for_retry, staging

bp = Blueprint("checklists", __name__)
RECENT_WALKS = 100
LONG_WALK = 15  # more items than this: the list offers one item per screen prominently
ITEM_NUMBER = re.compile(r"[0-9]{1,9}")


@bp.get("/checklists")
@login_required
def index() -> str:
    user = me()
    with unit_of_work() as session:
        checklists = list(session.scalars(walks.visible_checklists(select(Checklist), user)
                                          .order_by(Checklist.withdrawn_at.is_not(None), Checklist.id.desc())))
        recent = list(session.scalars(walks.visible_inspections(select(SelfInspection), user)
                                      .order_by(SelfInspection.id.desc()).limit(RECENT_WALKS)))
        sectors = dict(session.execute(select(Sector.code, Sector.name)).all())
    return render_template("checklists.html", checklists=checklists, walks=recent, sectors=sectors)


@bp.route("/checklists/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    """A department picks one of its sectors, then the items of that sector's standards and key items."""
    user = me()
    with unit_of_work() as session:
        own = list(session.scalars(select(Sector).where(Sector.department_id == user.organisation_id)
                                   .order_by(Sector.code)))
        if user.role != "department" or not own:
            abort(403)
        sector = request.values.get("sector") or own[0].code
        if sector not in {s.code for s in own}:
            raise InvalidInputError(_("只能为本部门监管的行业编制清单"))
        items = standards.applicable_items(session, sector, today())
    if request.method == "GET":
        return render_template("checklist_new.html", sectors=own, sector=sector, items=items, chosen=set(), error=None)
    chosen = [int(i) for i in request.form.getlist("item") if i.isdigit()]
    try:
        with unit_of_work() as session:
            checklist_id = walks.create_checklist(session, user, sector, request.form.get("title", ""), chosen,
                                                  now()).id
    except InvalidInputError as refused:
        return render_template("checklist_new.html", sectors=own, sector=sector, items=items, chosen=set(chosen),
                               error=str(refused)), 422
    flash(_("已发布自查清单"), "info")
    return redirect(url_for("checklists.show", checklist_id=checklist_id))


@bp.get("/checklists/<int:checklist_id>")
@login_required
def show(checklist_id: int) -> str:
    with unit_of_work() as session:
        checklist = walks.get_checklist(session, me(), checklist_id)
        lines = walks.checklist_items(session, checklist.id)
        sector = session.get(Sector, checklist.sector_code)
    return render_template("checklist.html", checklist=checklist, lines=lines, sector=sector, kinds=walks.KINDS)


@bp.post("/checklists/<int:checklist_id>/withdraw")
@login_required
def withdraw(checklist_id: int) -> Response:
    with unit_of_work() as session:
        walks.withdraw_checklist(session, me(), checklist_id, now())
    flash(_("已停用该清单"), "info")
    return redirect(url_for("checklists.show", checklist_id=checklist_id))


@bp.post("/checklists/<int:checklist_id>/walks")
@login_required
def start(checklist_id: int) -> Response:
    with unit_of_work() as session:
        walk_id = walks.start_walk(session, me(), checklist_id, request.form.get("kind", ""), now()).id
    return redirect(url_for("checklists.walk", walk_id=walk_id))


def _walk_page(walk_id: int, error: str | None = None, status: int = 200, one: bool = False,
               item: str | None = None, staged: dict[str, list[str]] | None = None) -> tuple[str, int]:
    """The walk as a list of every item, or (`one`) one item per screen: item `item` (1-based; default the
    first unanswered). Who may see the walk is checked before the item asked for. `staged`: the photos a
    refused save kept for the retry (field → hashes)."""
    user = me()
    with unit_of_work() as session:
        walk = walks.get_inspection(session, user, walk_id)
        lines = walks.checklist_items(session, walk.checklist_id)
        answers = walks.answers_of(session, walk.id)
    at = _item_number(item, len(lines)) if one and item else None
    steps = walks.walk_steps(lines, answers.keys(), at)
    editable = walk.status == "walking" and user.role == "enterprise"
    may_sign = walk.status == "submitted" and user.is_principal and user.organisation_id == walk.enterprise_id
    return render_template("self_inspection.html", walk=walk, lines=lines, answers=answers, editable=editable,
                           may_sign=may_sign, error=error, categories=walks.CATEGORIES, one=one, steps=steps,
                           long_walk=len(lines) > LONG_WALK, staged=staged or {},
                           staged_key=_staged_key(walk_id)), status


def _item_number(raw: str, count: int) -> int:
    """An item number from the address, 1..count; anything else is a friendly 400 in the page's language."""
    if not _in_range(raw, count):
        raise InvalidInputError(_("没有这一项：本清单共 %(count)s 项，请选择第 1 至 %(count)s 项", count=count))
    return int(raw)


def _in_range(raw: str, count: int) -> bool:
    return ITEM_NUMBER.fullmatch(raw) is not None and 1 <= int(raw) <= count


@bp.get("/self-inspections/<int:walk_id>")
@login_required
def walk(walk_id: int) -> tuple[str, int]:
    return _walk_page(walk_id, one=request.args.get("one") == "1", item=request.args.get("item"))


@bp.post("/self-inspections/<int:walk_id>")
@login_required
def save(walk_id: int) -> Response | tuple[str, int]:
    """Save the answers given, then come back to where the walker was (action=next: the next item);
    with action=submit, then finish the walk (both in one transaction)."""
    user, store = me(), app_services().evidence
    version, action = request.form.get("version", ""), request.form.get("action", "save")
    one = request.form.get("one") == "1"
    at = request.form.get("save_at") or request.form.get("at") or ""
    with unit_of_work() as session:
        lines = walks.checklist_items(session, walks.get_inspection(session, user, walk_id).checklist_id)
    staged, photos = staging(_staged_key(walk_id)), dict[int, list[Photo]]()
    try:
        if not version.isdigit():
            raise InvalidInputError(_("表单缺少版本号，请刷新页面后重试"))
        photos = _submitted_photos([line.id for line in lines], staged)
        answers = _submitted_answers([line.id for line in lines], photos)
        with unit_of_work() as session:
            walk = walks.save_answers(session, user, walk_id, int(version), answers, store, now())
            created = (walks.submit_walk(session, user, walk_id, walk.version, store, now())
                       if action == "submit" else None)
            answered = set(walks.answers_of(session, walk_id))
    except (InvalidInputError, ConflictError) as refused:  # re-shown with everything entered: nothing typed is lost
        status = 409 if isinstance(refused, ConflictError) else 422
        kept = keep_for_retry(staged, Uploads(store, {f"photos-{line}": p for line, p in photos.items() if p}))
        return _walk_page(walk_id, _(str(refused)), status, one, at if one and _in_range(at, len(lines)) else None,
                          kept)
    staged.discard()
    if created is not None:
        flash(_("已提交，发现隐患 %(count)s 项并已进入整改流程", count=len(created)), "info")
        return redirect(url_for("checklists.walk", walk_id=walk_id), 303)
    flash(_("已保存"), "info")
    return redirect(_where_to_go_on(walk_id, lines, answered, at, one, action == "next"), 303)


def _where_to_go_on(walk_id: int, lines: list[ChecklistItem], answered: set[int], at: str, one: bool,
                    forward: bool) -> str:
    """After a save: the same item (one item per screen), or the next with `forward` (past the last: the next
    unanswered), or the item `go` of the form; in the list, the item the walker was at (its 保存 button, or
    the one last touched), else the first unanswered."""
    number = int(at) if _in_range(at, len(lines)) else None
    steps = walks.walk_steps(lines, answered, number)
    if one:
        go = request.form.get("go", "")  # walk.js: a link followed with unsaved answers saves them first
        item = (int(go) if _in_range(go, len(lines)) else
                (steps.next or steps.next_open or steps.at) if forward else steps.at)
        return url_for("checklists.walk", walk_id=walk_id, one=1, item=item)
    anchor = number or steps.first_open
    return url_for("checklists.walk", walk_id=walk_id, _anchor=f"item-{anchor}" if anchor else "walk-actions")


def _staged_key(walk_id: int) -> str:
    return f"walk-{walk_id}"


def _submitted_photos(line_ids: list[int], staged: StagedUploads) -> dict[int, list[Photo]]:
    """Each line's photos, checked: those a refused save kept (ticked to keep), then the files sent now."""
    photos = {}
    for line_id in line_ids:
        kept = [staged.photo(h) for h in dict.fromkeys(request.form.getlist(f"staged_photos-{line_id}"))]
        files = [f for f in request.files.getlist(f"photos-{line_id}") if f.filename]
        photos[line_id] = kept + [check_photo(f.read(), f.filename or "photo") for f in files]
    return photos


def _submitted_answers(line_ids: list[int], photos: dict[int, list[Photo]]) -> dict[int, walks.AnswerInput]:
    """The answers in the form, by checklist line; a line with photos but no answer is refused."""
    answers = {}
    for line_id in line_ids:
        answer = request.form.get(f"answer-{line_id}", "")
        if not answer:
            if photos.get(line_id):
                raise InvalidInputError(_("请先为上传照片的条款选择检查结果"))
            continue
        answers[line_id] = walks.AnswerInput(
            answer, request.form.get(f"note-{line_id}", ""), request.form.get(f"location-{line_id}", ""),
            request.form.get(f"category-{line_id}", ""), photos.get(line_id, []),
            frozenset(request.form.getlist(f"remove-{line_id}")))
    return answers


@bp.post("/self-inspections/<int:walk_id>/sign")
@login_required
def sign(walk_id: int) -> Response | tuple[str, int]:
    version, participants = request.form.get("version", ""), request.form.get("participants", "")
    try:
        with unit_of_work() as session:
            duty = walks.sign_walk(session, me(), walk_id, int(version) if version.isdigit() else -1,
                                   request.form.get("signature", ""), now(),
                                   int(participants) if participants.isdigit() else None)
            period = duty.period if duty else None
    except InvalidInputError as refused:
        return _walk_page(walk_id, str(refused), 422, request.form.get("one") == "1")
    flash(_("已签字确认") if period is None else
          _("已签字确认，并完成 %(period)s 主要负责人带队检查履职事项", period=period), "info")
    return redirect(url_for("checklists.walk", walk_id=walk_id, one=1 if request.form.get("one") == "1" else None),
                    303)


@bp.get("/self-inspections/<int:walk_id>/files/<sha256>")
@login_required
def photo(walk_id: int, sha256: str) -> Response:
    """A photo or document of one of the walk's answers, to those who may see the walk."""
    with unit_of_work() as session:
        walks.get_inspection(session, me(), walk_id)
        stored = next((p for a in walks.answers_of(session, walk_id).values() for p in a.photos
                       if p["sha256"] == sha256), None)
    if stored is None:
        abort(404)
    return send_evidence(sha256, stored["media_type"], stored["name"], request.args.get("thumb") == "1")
