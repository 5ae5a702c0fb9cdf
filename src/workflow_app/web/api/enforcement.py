"""/api/v1/inspections and /api/v1/inspection-plans: enforcement inspections (list, record, read),
their penalties (一案双罚 as one call) and the departments' yearly 双随机 plans (read)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from ...services import inspection_plans, inspections, penalties
from ...services.enforcement import record_inspection
from ..context import now, unit_of_work
from .context import before_api_call, caller, fields_of, idempotent
from .document import link, operation
from .enforcement_schemas import (
    InspectedSchema,
    InspectionDetailSchema,
    InspectionQuerySchema,
    InspectionRowSchema,
    InspectionSchema,
    NewInspectionSchema,
    NewPenaltySchema,
    PenaltySchema,
    PlanDetailSchema,
    PlanSchema,
    RecordedPenaltiesSchema,
)

blp = Blueprint("api_enforcement", __name__, url_prefix="/api/v1", description="Enforcement (执法检查)")
blp.before_request(before_api_call)


@blp.route("/inspections")
class Inspections(MethodView):
    @operation("list_inspections", "List inspections", [422],
               links={200: {"get_inspection": link("get_inspection", inspection_id="$response.body#/0/id")}})
    @blp.arguments(InspectionQuerySchema, location="query")
    @blp.response(200, InspectionRowSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Inspections the caller may see (a department its own, the office all, a town its territory's,
        an enterprise its own), newest first."""
        with unit_of_work() as session:
            rows = inspections.list_inspections(session, caller(), args.get("enterprise_id"))
            return [{**fields_of(r.inspection, InspectionSchema), "enterprise_name": r.enterprise_name,
                     "department_name": r.department_name, "hazards": r.hazards, "penalties": r.penalties}
                    for r in rows]

    @operation("record_inspection", "Record an inspection", [400, 403, 404, 409, 422, 500],
               links={201: {"get_inspection": link("get_inspection", inspection_id="$response.body#/id"),
                            "record_penalties": link("record_penalties", inspection_id="$response.body#/id")}})
    @blp.arguments(NewInspectionSchema)
    @blp.response(201, InspectedSchema)
    def post(self, body: dict[str, Any]) -> Response:
        """Record an inspection by the caller's department of an enterprise it supervises; hazards found enter
        the loop. The department's first inspection of the enterprise in a year sets its liaison team; another
        team is refused (400). Send an Idempotency-Key to retry safely."""
        def work(session: Any) -> tuple[dict[str, Any], int]:
            result = record_inspection(session, caller(), body["enterprise_id"], body["team"], body["inspected_on"],
                                       body["findings"], body["found"], body["self_reported_ids"], now(),
                                       inspectors=body["inspectors"])
            return {"id": result.inspection_id, "found": result.new_hazard_ids,
                    "double_penalty": result.double_penalty, "not_penalised": result.not_penalised}, 201
        return idempotent(work)


@blp.route("/inspections/<int:inspection_id>")
class InspectionDetail(MethodView):
    @operation("get_inspection", "Get an inspection", [404],
               links={200: {"record_penalties": link("record_penalties",
                                                    inspection_id="$request.path.inspection_id")}})
    @blp.response(200, InspectionDetailSchema)
    def get(self, inspection_id: int) -> dict[str, Any]:
        """One inspection with the hazards it found or acknowledged and its penalties."""
        with unit_of_work() as session:
            record = inspections.get_inspection(session, caller(), inspection_id)
            return {**fields_of(record.inspection, InspectionSchema), "enterprise": record.enterprise,
                    "department_name": record.department_name, "found": record.found,
                    "acknowledged": record.acknowledged, "penalties": record.penalties}


@blp.route("/inspections/<int:inspection_id>/penalties")
class Penalties(MethodView):
    @operation("record_penalties", "Record a penalty decision (一案双罚)", [400, 403, 404, 409, 422])
    @blp.arguments(NewPenaltySchema)
    @blp.response(201, RecordedPenaltiesSchema)
    def post(self, body: dict[str, Any], inspection_id: int) -> Response:
        """Record a penalty decision of the inspecting department: the unit's, the principal's, or both
        (一案双罚: two records of one case, linked each way). A fine needs a positive amount, other kinds none."""
        decision = penalties.Decision(
            case_number=body["case_number"], legal_basis=body["legal_basis"], decided_by=body["decided_by"],
            decided_on=body["decided_on"], unit=_sanction(body.get("unit")), principal=_sanction(body.get("principal")),
            principal_name=body["principal_name"], hazard_id=body.get("hazard_id"))

        def work(session: Any) -> tuple[dict[str, Any], int]:
            recorded = penalties.record_penalties(session, caller(), inspection_id, decision, now())
            return {"items": PenaltySchema(many=True).dump(recorded)}, 201
        return idempotent(work)


def _sanction(given: dict[str, Any] | None) -> penalties.Sanction | None:
    if given is None:
        return None
    amount = given.get("amount")
    return penalties.Sanction(given["kind"], str(amount) if amount is not None else None)


@blp.route("/inspection-plans")
class Plans(MethodView):
    @operation("list_inspection_plans", "List yearly inspection plans", [403],
               links={200: {"get_inspection_plan": link("get_inspection_plan", plan_id="$response.body#/0/id")}})
    @blp.response(200, PlanSchema(many=True))
    def get(self) -> list[Any]:
        """Yearly 双随机 plans: a department its own, the office every department's."""
        with unit_of_work() as session:
            return [plan for plan, _ in inspection_plans.plans(session, caller())]


@blp.route("/inspection-plans/<int:plan_id>")
class PlanDetail(MethodView):
    @operation("get_inspection_plan", "Get an inspection plan", [403, 404])
    @blp.response(200, PlanDetailSchema)
    def get(self, plan_id: int) -> dict[str, Any]:
        """A plan with both pools, its seed, the enterprises drawn with their inspectors, and whether redrawing
        from the seed gives the same."""
        with unit_of_work() as session:
            plan, entries = inspection_plans.get_plan(session, caller(), plan_id)
            return {**fields_of(plan, PlanSchema), "enterprise_pool": plan.enterprise_pool,
                    "inspector_pool": plan.inspector_pool,
                    "reproducible": inspection_plans.redraw_matches(plan, [e.entry for e in entries]),
                    "entries": [{"enterprise_id": e.entry.enterprise_id, "enterprise_name": e.enterprise_name,
                                 "inspectors": e.entry.inspectors, "inspector_names": e.inspector_names,
                                 "inspection_id": e.entry.inspection_id} for e in entries]}
