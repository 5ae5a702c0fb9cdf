"""The Alembic migrations build exactly the schema the models declare, and carry the data across."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from conftest import T0
from helpers import REPORT
from sqlalchemy import Engine, text

from workflow_app.cli import main
from workflow_app.services import hazards, standards, tokens
from workflow_app.store.database import transaction
from workflow_app.store.downgrade import DataLossRefused, downgrade, rows_lost
from workflow_app.store.migrate import alembic_config, migration_connection, upgrade_to_head
from workflow_app.store.models import Base, Hazard, User

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


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


def test_a_downgrade_that_would_destroy_rows_is_refused_naming_them_and_changes_nothing(engine: Engine, factory,
                                                                                         zone) -> None:
    with transaction(factory) as s:
        tokens.create_token(s, zone.office, "ci", ["read"], 30, T0)
        s.get(User, zone.principal.id).phone = "13800000000"
    with pytest.raises(DataLossRefused) as refused:
        downgrade(engine, "0006")
    assert "1 API tokens (revision 0007)" in refused.value.losses
    assert "1 users' phones or e-mail addresses (revision 0017)" in refused.value.losses
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == HEAD
        assert connection.execute(text("SELECT count(*) FROM api_tokens")).scalar() == 1
    assert downgrade(engine, "0006", accept_data_loss=True) == refused.value.losses  # the operator's choice
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0006"


def test_every_revisions_loss_check_runs_on_its_own_schema_down_to_the_first(engine: Engine, zone) -> None:
    """Each LOST_ON_DOWNGRADE query is valid SQL at its revision; a zone with nothing to lose downgrades freely
    past the enterprise profile (its lead departments and sectors come back from the sector)."""
    assert downgrade(engine, "0016") == []
    while True:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current == "0001":
            break
        downgrade(engine, "-1", accept_data_loss=True)
    with engine.connect() as connection:
        assert rows_lost(connection)[0].endswith("organisations (revision 0001)")


def test_the_command_names_what_a_downgrade_would_destroy(engine: Engine, factory, zone) -> None:
    with transaction(factory) as s:
        tokens.create_token(s, zone.office, "ci", ["read"], 30, T0)
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["downgrade-db", "0006"], env={"WORKFLOW_APP_DATABASE_URL": url})
    assert result.exit_code == 1 and "1 API tokens (revision 0007)" in result.output
    wrong = CliRunner().invoke(main, ["downgrade-db", "0042"], env={"WORKFLOW_APP_DATABASE_URL": url})
    assert wrong.exit_code == 1 and "0042 is not below" in wrong.output
