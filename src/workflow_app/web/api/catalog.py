"""/api/v1: process models and versions, campaigns and their status, my notices."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from ...services import notice_centre
from ...services.campaigns import campaign_status
from ...services.errors import NotFoundError
from ...store.models import Campaign, ModelVersion
from ..context import unit_of_work
from .context import before_api_call, caller, fields_of
from .document import link, operation
from .schemas import CampaignSchema, CampaignStatusSchema, ModelSchema, NoticeSchema

blp = Blueprint("api_catalog", __name__, url_prefix="/api/v1", description="Models, campaigns, notices")
blp.before_request(before_api_call)
OVERSEERS = ("office", "town", "department")


@blp.route("/models")
class Models(MethodView):
    @operation("list_models", "List deployed process models")
    @blp.response(200, ModelSchema(many=True))
    def get(self) -> list[ModelVersion]:
        """Every deployed version of every process model, newest first."""
        with unit_of_work() as session:
            return list(session.scalars(select(ModelVersion).order_by(ModelVersion.process_id,
                                                                       ModelVersion.version.desc())))


def _overseer() -> None:
    if caller().role not in OVERSEERS:
        raise NotFoundError("campaigns are for the office, towns and departments")


@blp.route("/campaigns")
class Campaigns(MethodView):
    @operation("list_campaigns", "List campaigns", [404],
               links={200: {"get_campaign": link("get_campaign", code="$response.body#/0/code")}})
    @blp.response(200, CampaignSchema(many=True))
    def get(self) -> list[Campaign]:
        """Campaigns, newest first."""
        _overseer()
        with unit_of_work() as session:
            return list(session.scalars(select(Campaign).order_by(Campaign.year.desc(), Campaign.code)))


@blp.route("/campaigns/<code>")
class CampaignDetail(MethodView):
    @operation("get_campaign", "Get a campaign's status", [404])
    @blp.response(200, CampaignStatusSchema)
    def get(self, code: str) -> dict[str, Any]:
        """A campaign's phase timeline, who filed each week and each unit report, and its running counts."""
        _overseer()
        with unit_of_work() as session:
            status = campaign_status(session, code)
        return {**fields_of(status.campaign, CampaignSchema), "counts": status.counts, "periods": status.periods,
                "phases": [{"phase": p, "deadline": d, "state": s} for p, d, s in status.phases],
                "reports": status.reports}


@blp.route("/notices")
class Notices(MethodView):
    @operation("list_my_notices", "List my notices")
    @blp.response(200, NoticeSchema(many=True))
    def get(self) -> list[Any]:
        """The in-app notices of the caller's organisation, newest first."""
        with unit_of_work() as session:
            return notice_centre.inbox_notices(session, caller())
