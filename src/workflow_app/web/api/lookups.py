"""/api/v1 lookups a client needs to fill its calls: who am I, the report form, enterprises, standard items."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wrappers import Response

from ...services import lookups
from ...store.models import StandardItem
from ..context import today, unit_of_work
from .context import before_api_call, caller
from .document import link, operation
from .form_schemas import form_schema
from .schemas import EnterprisePageSchema, EnterpriseQuerySchema, MeSchema, StandardItemSchema

blp = Blueprint("api_lookups", __name__, url_prefix="/api/v1", description="Lookups (查询)")
blp.before_request(before_api_call)
JSON_SCHEMA = {"type": "object", "description": "a JSON Schema (2020-12)", "additionalProperties": True}


@blp.route("/me")
class Me(MethodView):
    @operation("get_me", "Who am I")
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """The caller: their account, organisation, role, the token's scopes, and the display name a
        verification's signature must carry."""
        user = caller()
        organisation = user.organisation
        return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
                "organisation": {"id": organisation.id, "name": organisation.name, "kind": organisation.kind},
                "scopes": sorted(g.api_scopes)}


@blp.route("/forms/hazard-report")
class HazardReportForm(MethodView):
    @operation("get_hazard_report_form", "The hazard report form as JSON Schema")
    @blp.response(200, JSON_SCHEMA)
    def get(self) -> Response:
        """The `data` of a hazard report (POST /api/v1/hazards) as JSON Schema: its fields, the allowed
        source, level and category codes, what must be filled; the form the server validates with."""
        with unit_of_work() as session:
            form = lookups.hazard_start_form(session)
        return jsonify(form_schema(form))


@blp.route("/enterprises")
class Enterprises(MethodView):
    @operation("list_enterprises", "List the enterprises I may see (cursor pages)", [422],
               links={200: {"list_standard_items": link("list_standard_items",
                                                        enterprise_id="$response.body#/items/0/id")}})
    @blp.arguments(EnterpriseQuerySchema, location="query")
    @blp.response(200, EnterprisePageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The enterprises the caller may see (an enterprise itself, a town its territory, a department those
        it supervises, the office all), by id, a page at a time (pass `next_cursor` back as `cursor`)."""
        limit = args["limit"]
        with unit_of_work() as session:
            found = lookups.visible_enterprises(session, caller(), args.get("cursor"), limit + 1)
        more = len(found) > limit
        return {"items": found[:limit], "next_cursor": found[limit - 1].id if more else None}


@blp.route("/enterprises/<int:enterprise_id>/standard-items")
class StandardItems(MethodView):
    @operation("list_standard_items", "Standard items in force for an enterprise", [404])
    @blp.response(200, StandardItemSchema(many=True))
    def get(self, enterprise_id: int) -> list[StandardItem]:
        """The standard items a hazard of this enterprise may be judged against today (`judged_item_ids` of a
        report): those of the standards in force for its sectors; an item of a judgement standard makes the
        hazard major."""
        with unit_of_work() as session:
            return lookups.standard_items_for(session, caller(), enterprise_id, today())
