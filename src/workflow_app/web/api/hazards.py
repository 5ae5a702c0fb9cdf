"""/api/v1/hazards: list (ledger filters, cursor pages), report, get with history and attachments."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema
from sqlalchemy import select
from werkzeug.wrappers import Response

from ...services import audit, evidence
from ...services.errors import PermissionDeniedError
from ...services.hazards import get_hazard, report_hazard
from ...services.ledger import LedgerQuery, ledger_query
from ...services.roles import may_report_for
from ...store.models import Evidence, Hazard
from ..context import app_services, now, today, unit_of_work
from ..downloads import send_evidence
from .context import authenticate, caller, fields_of, idempotent
from .schemas import (
    AttachmentSchema,
    HazardDetailSchema,
    HazardPageSchema,
    HazardQuerySchema,
    HazardSchema,
    ReportedSchema,
    ReportSchema,
)

blp = Blueprint("api_hazards", __name__, url_prefix="/api/v1", description="Hazards (隐患)")
blp.before_request(authenticate)


@blp.route("/hazards")
class Hazards(MethodView):
    @blp.arguments(HazardQuerySchema, location="query")
    @blp.response(200, HazardPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Hazards the caller may see, newest first, a page at a time (pass `next_cursor` back as `cursor`)."""
        wanted = LedgerQuery(level=args.get("level"), status=args.get("status"), source=args.get("source"),
                             enterprise_id=args.get("enterprise_id"), overdue=args.get("overdue", False))
        query = ledger_query(caller(), wanted, today()).order_by(None).order_by(Hazard.id.desc())
        if args.get("cursor"):
            query = query.where(Hazard.id < args["cursor"])
        limit = args["limit"]
        with unit_of_work() as session:
            items = list(session.scalars(query.limit(limit + 1)))
        more = len(items) > limit
        return {"items": items[:limit], "next_cursor": items[limit - 1].id if more else None}

    @blp.arguments(ReportSchema)
    @blp.response(201, ReportedSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """Report a hazard (start its loop); send an Idempotency-Key to retry safely."""
        def work(session: Any) -> tuple[dict[str, Any], int]:
            reported = report_hazard(session, caller(), body["enterprise_id"], body["data"], now(),
                                     judged_item_ids=body["judged_item_ids"])
            return {"id": reported.hazard_id, "code": reported.code, "status": reported.status}, 201
        return idempotent(work)


@blp.route("/hazards/<int:hazard_id>")
class HazardDetail(MethodView):
    @blp.response(200, HazardDetailSchema)
    def get(self, hazard_id: int) -> dict[str, Any]:
        """One hazard with its history (who did what, when) and its attachments."""
        with unit_of_work() as session:
            hazard = get_hazard(session, caller(), hazard_id)
            return {**fields_of(hazard, HazardSchema), "judged_items": list(hazard.judged_items),
                    "history": audit.history(session, "hazard", hazard.id),
                    "attachments": evidence.for_hazard(session, hazard.id)}


@blp.route("/attachments/<int:attachment_id>")
class Attachment(MethodView):
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    def get(self, attachment_id: int) -> Response:
        """Download an attachment of a hazard the caller may see."""
        with unit_of_work() as session:
            photo = evidence.visible_photo(session, caller(), attachment_id)
        return send_evidence(photo.sha256, photo.media_type, photo.original_name)


class UploadSchema(Schema):
    file = Upload(required=True)


@blp.route("/hazards/<int:hazard_id>/attachments")
class Attachments(MethodView):
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, AttachmentSchema)
    def post(self, files: dict[str, Any], hazard_id: int) -> Response:
        """Attach a photo (JPEG, PNG or WebP, at most 8 MB) to a hazard of the caller's organisation."""
        upload = files["file"]
        photo = evidence.check_photo(upload.read(), upload.filename or "photo")

        def work(session: Any) -> tuple[dict[str, Any], int]:
            hazard = get_hazard(session, caller(), hazard_id)
            if not may_report_for(session, caller(), hazard.enterprise):
                raise PermissionDeniedError("you may not add attachments to this hazard")
            evidence.Uploads(app_services().evidence, {"attachment": [photo]}).save(session, caller(), hazard.id,
                                                                                     now())
            stored = session.scalar(select(Evidence).where(Evidence.hazard_id == hazard.id,
                                                           Evidence.sha256 == photo.sha256))
            return AttachmentSchema().dump(stored), 201
        return idempotent(work)
