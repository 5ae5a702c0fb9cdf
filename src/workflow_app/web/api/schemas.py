"""Request and response schemas of /api/v1 (marshmallow; the OpenAPI document is built from them)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from ...services.attachments import STAGES
from ...services.hazards import MAX_JUDGED_ITEMS
from ...services.inbox import TaskCursor
from ...services.vocabulary import LEVELS, SOURCES, STATUSES

MAX_ID = 2**63 - 1


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={"description": "field → messages"})


class EnterpriseSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class HazardSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    location = fields.String(required=True)
    category = fields.String(required=True)
    source = fields.String(required=True, metadata={
        "description": "how it was found; an enterprise is told a public or whistleblower report as enforcement"})
    level = fields.String(required=True)
    status = fields.String(required=True)
    found_on = fields.Date(required=True)
    reported_at = fields.DateTime(required=True)
    rectification_deadline = fields.Date(allow_none=True)
    responsible_person = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    enterprise = fields.Nested(EnterpriseSchema, required=True)


class HistoryNoteSchema(Schema):
    label = fields.String(required=True, metadata={"description": "the form field's label, in the request's language"})
    text = fields.String(required=True, metadata={"description": "the value in words (a choice's name, 是/否 "
                                                                  "translated) or as typed"})


class HistoryEntrySchema(Schema):
    at = fields.DateTime(required=True)
    actor_name = fields.String(required=True)
    action = fields.String(required=True, metadata={"description": "a stable code, for machines"})
    detail = fields.Dict(required=True, metadata={"description": "the raw record, codes as stored"})
    action_label = fields.String(required=True, metadata={
        "description": "what was done in words, in the request's language (e.g. 办理：审核治理方案)"})
    outcome_label = fields.String(required=True, allow_none=True, metadata={
        "description": "the choices made in words (e.g. 审核结论：同意), null when the step made none"})
    notes = fields.List(fields.Nested(HistoryNoteSchema), required=True, metadata={
        "description": "every fact the step recorded, in words, in its form's order"})


class AttachmentSchema(Schema):
    id = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    media_type = fields.String(required=True)
    size = fields.Integer(required=True)
    original_name = fields.String(required=True)
    stage = fields.String(required=True, metadata={
        "description": "the form field it came with (photos_before, photos_after) or attachment"})
    uploaded_at = fields.DateTime(required=True)


class JudgedItemSchema(Schema):
    id = fields.Integer(required=True)
    standard_code = fields.String(required=True, attribute="standard.code")
    doc_number = fields.String(required=True, attribute="standard.doc_number")
    number = fields.String(required=True)
    text = fields.String(required=True)


class HazardDetailSchema(HazardSchema):
    judged_items = fields.List(fields.Nested(JudgedItemSchema), required=True,
                               metadata={"description": "the standard items it was judged against"})
    history = fields.List(fields.Nested(HistoryEntrySchema), required=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), required=True)


class HazardQuerySchema(Schema):
    level = fields.String(validate=validate.OneOf(list(LEVELS)))
    status = fields.String(validate=validate.OneOf(list(STATUSES)))
    source = fields.String(validate=validate.OneOf(list(SOURCES)))
    enterprise_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    overdue = fields.Boolean()
    cursor = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                            metadata={"description": "id of the last hazard seen"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class HazardPageSchema(Schema):
    items = fields.List(fields.Nested(HazardSchema), required=True)
    next_cursor = fields.Integer(allow_none=True, required=True)


class ReportSchema(Schema):
    enterprise_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    data = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True,
                       metadata={"description": "the fields of the model's start form"})
    judged_item_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)), load_default=list,
                                  validate=validate.Length(max=MAX_JUDGED_ITEMS),
                                  metadata={"description": "items of the sector's standards in force it matches "
                                                           "(a standard's item makes it major)"})


class ReportedSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    status = fields.String(required=True)


class TaskSchema(Schema):
    task_id = fields.String(required=True)
    name = fields.String(required=True)
    bpmn_id = fields.String(required=True)
    hazard_id = fields.Integer(allow_none=True)
    campaign_id = fields.Integer(allow_none=True)
    case_id = fields.Integer(allow_none=True,
                             metadata={"description": "the case (permit, other process) it belongs to"})
    period = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True)
    assignee_id = fields.Integer(allow_none=True)


TASK_CURSOR = r"^(-|[1-9][0-9]{0,5})\.[0-9]{1,18}$"
"""A page of tasks ends at `<due date as a day number (date.toordinal) or ->.<row id>`: every text of this shape is
a cursor the server can read, so a client's schema check and the server's agree."""


class TaskCursorField(fields.Field):
    """Where a page of tasks ended (opaque to clients: pass next_cursor back as it came)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> TaskCursor:
        text = value if isinstance(value, str) else ""
        if not re.fullmatch(TASK_CURSOR, text):
            raise ValidationError("not a cursor of this list: pass back next_cursor as it came")
        due, _, row = text.partition(".")
        return TaskCursor(None if due == "-" else date.fromordinal(int(due)), int(row))


def task_cursor(cursor: TaskCursor) -> str:
    """The text of a cursor (TaskCursorField reads it back)."""
    return f"{cursor.due_on.toordinal() if cursor.due_on else '-'}.{cursor.row_id}"


class TaskQuerySchema(Schema):
    cursor = TaskCursorField(metadata={"description": "next_cursor of the previous page", "type": "string",
                                       "pattern": TASK_CURSOR})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class TaskPageSchema(Schema):
    items = fields.List(fields.Nested(TaskSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True,
                                metadata={"description": "pass back as `cursor` for the next page; null: no more"})


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(required=True, metadata={"description": "the task's form as a JSON Schema"})
    etag = fields.String(required=True)


class CompleteSchema(Schema):
    data = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True,
                       metadata={"description": "the fields of the task's form (its `form` JSON Schema)"})


class CompletedSchema(Schema):
    task_id = fields.String(required=True)
    status = fields.String(required=True)


class ModelSchema(Schema):
    process_id = fields.String(required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True)
    file_name = fields.String(required=True)
    sha256 = fields.String(required=True)
    deployed_at = fields.DateTime(required=True)


class CampaignSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    year = fields.Integer(required=True)
    status = fields.String(required=True)
    phase = fields.String(required=True)


class FilingSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "report (贯彻落实情况) or summary (工作总结)"})
    period = fields.String(required=True)
    due_on = fields.Date(allow_none=True)
    filed = fields.List(fields.String(), required=True)
    missing = fields.List(fields.String(), required=True)


class CampaignStatusSchema(CampaignSchema):
    phases = fields.List(fields.Dict(), required=True)
    periods = fields.Dict(required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    reports = fields.List(fields.Nested(FilingSchema), required=True)


class NoticeSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    subject = fields.String(required=True)
    hazard_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True)


class OrganisationSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["enterprise", "department", "town", "office"]))


class MeSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True, metadata={
        "description": "the name a verification's signature field must carry"})
    role = fields.String(required=True, validate=validate.OneOf(["enterprise", "department", "town", "office"]))
    organisation = fields.Nested(OrganisationSchema, required=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(["read", "write"])), required=True,
                         metadata={"description": "what the token may do"})


class EnterpriseEntrySchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "active; closed or merged ones take no reports"})
    sectors = fields.List(fields.String(), required=True, metadata={"description": "its sector codes"})


class EnterpriseQuerySchema(Schema):
    cursor = fields.Integer(validate=validate.Range(min=1, max=MAX_ID),
                            metadata={"description": "id of the last enterprise seen"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class EnterprisePageSchema(Schema):
    items = fields.List(fields.Nested(EnterpriseEntrySchema), required=True)
    next_cursor = fields.Integer(allow_none=True, required=True)


class StandardItemSchema(JudgedItemSchema):
    standard_kind = fields.String(required=True, attribute="standard.kind", metadata={
        "description": "standard: matching it makes the hazard major; key_items: a key inspection item"})
    standard_title = fields.String(required=True, attribute="standard.title")
    group = fields.String(required=True)


STAGE_NAMES = sorted(STAGES)
