"""The Alembic migrations build exactly the schema the models declare, and carry the data across."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import T0
from helpers import REPORT
from sqlalchemy import Engine, text

from workflow_app.services import hazards, standards
from workflow_app.store.database import transaction
from workflow_app.store.migrate import alembic_config, migration_connection, upgrade_to_head
from workflow_app.store.models import Base, Hazard


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_items_hazards_were_judged_against_survive_migrating_down_and_up(engine: Engine, factory, zone) -> None:
    with transaction(factory) as s:
        item = next(i.id for i in standards.applicable_items(s, "industry", T0.date()) if i.standard.kind == "standard")
        hid = hazards.report_hazard(s, zone.principal, zone.enterprise_id, {**REPORT, "hazard_level": "general"}, T0,
                                    judged_item_ids=[item]).hazard_id
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as connection:  # 0014 kept one item per hazard in hazards.judged_item_id
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    with engine.connect() as connection:
        one = connection.execute(text("SELECT judged_item_id FROM hazards WHERE id = :id"), {"id": hid}).scalar()
    assert one == item
    upgrade_to_head(engine)
    with transaction(factory) as s:
        kept = s.get(Hazard, hid)
        assert kept is not None and ([i.id for i in kept.judged_items], kept.level) == ([item], "major")


def test_upgrading_makes_an_enterprises_sector_department_its_lead_and_indexes_its_name(engine: Engine, zone) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as connection:  # before 0018 a sector's department was the only supervisor
        config.attributes["connection"] = connection
        command.downgrade(config, "0017")
    with engine.begin() as connection:
        connection.execute(text("UPDATE organisations SET risk_colour = 'red' WHERE id = :id"),
                           {"id": zone.enterprise_id})
    upgrade_to_head(engine)
    with engine.connect() as connection:
        supervisions = connection.execute(text("SELECT enterprise_id, department_id, is_lead FROM supervisions "
                                               "ORDER BY enterprise_id")).all()
        sectors = connection.execute(text("SELECT enterprise_id, sector_code FROM enterprise_sectors "
                                          "ORDER BY enterprise_id")).all()
        history = connection.execute(text("SELECT enterprise_id, colour FROM risk_colour_changes")).all()
        initials = connection.execute(text("SELECT name_initials FROM organisations WHERE id = :id"),
                                      {"id": zone.enterprise_id}).scalar()
    assert [tuple(r) for r in supervisions] == [
        (zone.enterprise_id, zone.department.organisation_id, True),
        (zone.other_enterprise_id, zone.other_department.organisation_id, True)]
    assert [tuple(r) for r in sectors] == [(zone.enterprise_id, "industry"), (zone.other_enterprise_id, "transport")]
    assert [tuple(r) for r in history] == [(zone.enterprise_id, "red")]
    assert initials == "e1dw"  # E1单位: found by typing its pinyin initials
