"""/api/v1/hazards: list (ledger filters, cursor pages), report, get with history and attachments."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.wrappers import Request, Response

from ...services import attachments, evidence
from ...services.hazards import get_hazard, hazard_history, report_hazard
from ...services.history_words import read_history
from ...services.ledger import LedgerQuery, ledger_query
from ...services.roles import source_shown_to
from ...store.models import Hazard
from ..context import app_services, now, today, unit_of_work
from ..downloads import send_evidence
from ..labels import history_in_words
from .context import before_api_call, caller, fields_of, idempotent, refuse_unknown_parts
from .document import link, operation
from .schemas import (
    STAGE_NAMES,
    AttachmentSchema,
    HazardDetailSchema,
    HazardPageSchema,
    HazardQuerySchema,
    HazardSchema,
    ReportedSchema,
    ReportSchema,
)

KINDS = [*evidence.MEDIA_TYPES.values(), evidence.PDF]
"""What an attachment may be (checked by its bytes, not its name)."""
UPLOADED = ", ".join(KINDS)


class MultipartParser(FlaskParser):
    """Reads a multipart body's files and its other fields together (webargs' `files` reads only the files),
    so that one schema declares and checks the whole upload."""

    def load_files(self, req: Request, schema: Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class HazardsBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()


blp = HazardsBlueprint("api_hazards", __name__, url_prefix="/api/v1", description="Hazards (隐患)")
blp.before_request(before_api_call)


@blp.route("/hazards")
class Hazards(MethodView):
    @operation("list_hazards", "List hazards (cursor pages)", [422],
               links={200: {"get_hazard": link("get_hazard", hazard_id="$response.body#/items/0/id")}})
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
            items = [_shown(h) for h in session.scalars(query.limit(limit + 1))]
        more = len(items) > limit
        return {"items": items[:limit], "next_cursor": items[limit - 1]["id"] if more else None}

    @operation("report_hazard", "Report a hazard", [400, 403, 404, 409, 422, 500],
               links={201: {"get_hazard": link("get_hazard", hazard_id="$response.body#/id"),
                            "upload_attachment": link("upload_attachment", hazard_id="$response.body#/id")}})
    @blp.arguments(ReportSchema)
    @blp.response(201, ReportedSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """Report a hazard (start its loop); send an Idempotency-Key to retry safely."""
        def work(session: Any) -> tuple[dict[str, Any], int]:
            reported = report_hazard(session, caller(), body["enterprise_id"], body["data"], now(),
                                     judged_item_ids=body["judged_item_ids"])
            return {"id": reported.hazard_id, "code": reported.code, "status": reported.status}, 201
        return idempotent(work)


def _shown(hazard: Hazard) -> dict[str, Any]:
    """The hazard's fields as the caller may read them (the source as the caller is told it)."""
    return {**fields_of(hazard, HazardSchema), "source": source_shown_to(caller(), hazard)}


@blp.route("/hazards/<int:hazard_id>")
class HazardDetail(MethodView):
    @operation("get_hazard", "Get a hazard with its history and attachments", [404],
               links={200: {"upload_attachment": link("upload_attachment", hazard_id="$request.path.hazard_id"),
                            "download_attachment": link("download_attachment",
                                                        attachment_id="$response.body#/attachments/0/id")}})
    @blp.response(200, HazardDetailSchema)
    def get(self, hazard_id: int) -> dict[str, Any]:
        """One hazard with its history (who did what, when) and its attachments."""
        with unit_of_work() as session:
            hazard = get_hazard(session, caller(), hazard_id)
            return {**_shown(hazard), "judged_items": list(hazard.judged_items),
                    "history": history_in_words(read_history(session, hazard.instance_id,
                                                             hazard_history(session, caller(), hazard))),
                    "attachments": evidence.for_hazard(session, hazard.id)}


@blp.route("/attachments/<int:attachment_id>")
class Attachment(MethodView):
    @operation("download_attachment", "Download an attachment", [404])
    @blp.doc(responses={200: {"description": "The file as uploaded", "content": {
        media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in KINDS}}})
    def get(self, attachment_id: int) -> Response:
        """Download an attachment of a hazard the caller may see."""
        with unit_of_work() as session:
            photo = evidence.visible_photo(session, caller(), attachment_id)
        return send_evidence(photo.sha256, photo.media_type, photo.original_name)


class UploadSchema(Schema):
    file = Upload(required=True)
    stage = fields.String(load_default="attachment", validate=validate.OneOf(STAGE_NAMES), metadata={
        "description": "before: a photo of the hazard; after: a photo of its rectification (name its sha256 in "
                       "the rectification's photos_after); attachment: any other document"})


@blp.route("/hazards/<int:hazard_id>/attachments")
class Attachments(MethodView):
    @operation("upload_attachment", "Attach a photo or PDF to a hazard", [400, 403, 404, 409, 413, 422],
               links={201: {"download_attachment": link("download_attachment", attachment_id="$response.body#/id")}})
    @blp.doc(requestBody={"content": {"multipart/form-data": {"encoding": {"file": {"contentType": UPLOADED}}}}})
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, AttachmentSchema)
    def post(self, files: dict[str, Any], hazard_id: int) -> Response:
        """Attach a photo (JPEG, PNG or WebP) or a PDF, at most 8 MB, to a hazard of the caller's organisation.

        Recorded in the hazard's history. A closed or rejected hazard's evidence is frozen: 409.
        """
        refuse_unknown_parts("file", "stage")
        upload = files["file"]
        photo = evidence.check_photo(upload.read(), upload.filename or "photo")

        def work(session: Any) -> tuple[dict[str, Any], int]:
            stored = attachments.attach(session, caller(), hazard_id, photo, app_services().evidence, now(),
                                        attachments.STAGES[files["stage"]])
            return AttachmentSchema().dump(stored), 201
        return idempotent(work)
