"""Request and response schemas of /api/v1's enforcement calls: inspections, penalties, yearly plans."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...services.penalties import KINDS
from .schemas import MAX_ID, EnterpriseSchema, ReportedSchema

MAX_FOUND = 50
"""Hazards one inspection may record at once."""


class InspectionSchema(Schema):
    id = fields.Integer(required=True)
    enterprise_id = fields.Integer(required=True)
    department_id = fields.Integer(required=True)
    team = fields.String(required=True, metadata={"description": "the department's liaison team (包联执法组)"})
    inspected_on = fields.Date(required=True)
    inspectors = fields.String(allow_none=True)
    findings = fields.String(required=True)
    recorded_at = fields.DateTime(required=True)


class InspectionRowSchema(InspectionSchema):
    enterprise_name = fields.String(required=True)
    department_name = fields.String(required=True)
    hazards = fields.Integer(required=True, metadata={"description": "hazards it found"})
    penalties = fields.Integer(required=True)


class InspectionQuerySchema(Schema):
    enterprise_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class PenaltySchema(Schema):
    id = fields.Integer(required=True)
    inspection_id = fields.Integer(required=True)
    enterprise_id = fields.Integer(required=True)
    hazard_id = fields.Integer(allow_none=True)
    case_number = fields.String(required=True)
    legal_basis = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    amount = fields.Decimal(allow_none=True, as_string=True, metadata={"description": "yuan, for a fine"})
    target = fields.String(required=True, metadata={"enum": ["unit", "principal"]})
    target_name = fields.String(required=True)
    decided_by = fields.String(required=True)
    decided_on = fields.Date(required=True)
    linked_penalty_id = fields.Integer(allow_none=True, metadata={"description": "the other record of 一案双罚"})


class RecordedPenaltiesSchema(Schema):
    items = fields.List(fields.Nested(PenaltySchema), required=True,
                        metadata={"description": "one record, or two linked ones for 一案双罚"})


class InspectionDetailSchema(InspectionSchema):
    enterprise = fields.Nested(EnterpriseSchema, required=True)
    department_name = fields.String(required=True)
    found = fields.List(fields.Nested(ReportedSchema), required=True, metadata={"description": "hazards it found"})
    acknowledged = fields.List(fields.Nested(ReportedSchema), required=True,
                               metadata={"description": "self-reported major hazards recorded as not penalised"})
    penalties = fields.List(fields.Nested(PenaltySchema), required=True)


class NewInspectionSchema(Schema):
    enterprise_id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    team = fields.String(required=True, validate=validate.Length(min=1, max=100))
    inspected_on = fields.Date(required=True)
    inspectors = fields.String(load_default="", validate=validate.Length(max=200))
    findings = fields.String(required=True, validate=validate.Length(min=1, max=10000))
    found = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)), load_default=list,
                        validate=validate.Length(max=MAX_FOUND),
                        metadata={"description": "hazards found, each as the hazard model's start form"})
    self_reported_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=MAX_ID)), load_default=list,
                                    validate=validate.Length(max=MAX_FOUND),
                                    metadata={"description": "open major hazards the enterprise reported itself "
                                                             "and is rectifying (not penalised)"})


class InspectedSchema(Schema):
    id = fields.Integer(required=True)
    found = fields.List(fields.Integer(), required=True)
    double_penalty = fields.List(fields.Integer(), required=True)
    not_penalised = fields.List(fields.Integer(), required=True)


class SanctionSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    amount = fields.Decimal(allow_none=True, as_string=True,
                            metadata={"description": "yuan, positive, at most two decimals; a fine only"})


class NewPenaltySchema(Schema):
    case_number = fields.String(required=True, validate=validate.Length(min=1, max=60))
    legal_basis = fields.String(required=True, validate=validate.Length(min=1, max=300))
    decided_by = fields.String(required=True, validate=validate.Length(min=1, max=100))
    decided_on = fields.Date(required=True)
    hazard_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_ID))
    unit = fields.Nested(SanctionSchema, allow_none=True, metadata={"description": "the unit's sanction"})
    principal = fields.Nested(SanctionSchema, allow_none=True,
                              metadata={"description": "the principal's; with `unit`, 一案双罚 (two linked records)"})
    principal_name = fields.String(load_default="", validate=validate.Length(max=100))


class PlanSchema(Schema):
    id = fields.Integer(required=True)
    department_id = fields.Integer(required=True)
    year = fields.Integer(required=True)
    seed = fields.String(required=True)
    sample_size = fields.Integer(required=True)
    per_enterprise = fields.Integer(required=True)
    drawn_at = fields.DateTime(required=True)


class PlanEntrySchema(Schema):
    enterprise_id = fields.Integer(required=True)
    enterprise_name = fields.String(required=True)
    inspectors = fields.List(fields.Integer(), required=True)
    inspector_names = fields.List(fields.String(), required=True)
    inspection_id = fields.Integer(allow_none=True, metadata={"description": "the inspection that fulfilled it"})


class PlanDetailSchema(PlanSchema):
    enterprise_pool = fields.List(fields.Integer(), required=True)
    inspector_pool = fields.List(fields.Integer(), required=True)
    reproducible = fields.Boolean(required=True, metadata={"description": "redrawing from the seed gives the same"})
    entries = fields.List(fields.Nested(PlanEntrySchema), required=True)
