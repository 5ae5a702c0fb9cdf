"""Self-inspection checklists (issue #10): built by departments, walked by enterprises, signed by principals."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from conftest import T0, Zone
from helpers import EVIDENCE
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, png, sign_in

from workflow_app.reports.statistics import period_statistics, week_of
from workflow_app.services import inbox, standards
from workflow_app.services import self_inspections as walks
from workflow_app.services.campaign_figures import weekly_figures
from workflow_app.services.duties import open_due_duties
from workflow_app.services.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from workflow_app.services.evidence import Evidence, check_photo
from workflow_app.store.database import transaction
from workflow_app.store.models import (
    AuditEntry,
    Checklist,
    Duty,
    Hazard,
    InboxTask,
    Organisation,
    SelfInspection,
    SelfInspectionAnswer,
    StandardItem,
)

KEY_ITEMS = (f"{','.join(standards.COLUMNS)}\n"
             "KEY-IND-2026,key_items,工贸行业重点检查事项,D1单位,D1〔2026〕1号,2026-01-01,industry,,是,K1,,"
             "有限空间作业未实行作业审批\n")


def _item_ids(factory: sessionmaker[Session], sector: str) -> dict[str, int]:
    with transaction(factory) as s:
        return {f"{i.standard.code} {i.number}": i.id
                for i in standards.applicable_items(s, sector, T0.date())}


def _industry_checklist(factory: sessionmaker[Session], zone: Zone) -> tuple[int, list[int]]:
    """The department's checklist for industry: three items of the standard and one key inspection item."""
    with transaction(factory) as s:
        standards.import_rows(s, zone.department, standards.read_table(KEY_ITEMS.encode(), "k.csv"), T0)
    ids = _item_ids(factory, "industry")
    chosen = [ids["GM-2023 第十一条(三)"], *[v for k, v in ids.items() if k.startswith("GM-2023")][:2],
              ids["KEY-IND-2026 K1"]]
    chosen = list(dict.fromkeys(chosen))
    with transaction(factory) as s:
        checklist = walks.create_checklist(s, zone.department, "industry", "工贸企业对标对表自查清单", chosen, T0)
        lines = [line.id for line in walks.checklist_items(s, checklist.id)]
    return checklist.id, lines


def _version(factory: sessionmaker[Session], walk_id: int) -> int:
    with transaction(factory) as s:
        walk = s.get(SelfInspection, walk_id)
        assert walk is not None
        return walk.version


def _save(factory: sessionmaker[Session], user, walk_id: int, answers: dict[int, walks.AnswerInput]) -> None:
    version = _version(factory, walk_id)
    with transaction(factory) as s:
        walks.save_answers(s, user, walk_id, version, answers, EVIDENCE, T0)


def _submit(factory: sessionmaker[Session], user, walk_id: int) -> list[int]:
    version = _version(factory, walk_id)
    with transaction(factory) as s:
        return walks.submit_walk(s, user, walk_id, version, EVIDENCE, T0 + timedelta(hours=1))


def _sign(factory: sessionmaker[Session], user, walk_id: int, signature: str) -> None:
    version = _version(factory, walk_id)
    with transaction(factory) as s:
        walks.sign_walk(s, user, walk_id, version, signature, T0 + timedelta(hours=2))


def _count(factory: sessionmaker[Session], model: type) -> int:
    with transaction(factory) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_a_checklist_walked_to_the_end_creates_exactly_the_hazards_marked_found(factory, zone: Zone) -> None:
    checklist_id, lines = _industry_checklist(factory, zone)
    assert len(lines) == 4
    officer = zone.safety_officer
    with transaction(factory) as s:
        walk_id = walks.start_walk(s, officer, checklist_id, "self_inspection", T0).id
    photo = check_photo(png("orange"), "valve.png")
    first = {lines[0]: walks.AnswerInput("found", "报警器不报警", "储罐区", "equipment", [photo]),
             lines[1]: walks.AnswerInput("compliant", "已核查")}
    _save(factory, officer, walk_id, first)

    hazards_before = _count(factory, Hazard)
    with pytest.raises(InvalidInputError, match="尚有 2 项未检查"):
        _submit(factory, officer, walk_id)
    with pytest.raises(InvalidInputError, match=r"第 4 项.*部位") as refused:
        _save(factory, officer, walk_id, {lines[2]: walks.AnswerInput("not_applicable"),
                                          lines[3]: walks.AnswerInput("found", "未审批", "", "management")})
    assert "第 3 项" not in str(refused.value)
    with transaction(factory) as s:  # nothing of the refused save was kept
        assert set(walks.answers_of(s, walk_id)) == {lines[0], lines[1]}
    confined_space = walks.AnswerInput("found", "有限空间未审批即作业", "污水池", "violation")
    _save(factory, officer, walk_id, {lines[2]: walks.AnswerInput("not_applicable"), lines[3]: confined_space})
    created = _submit(factory, officer, walk_id)
    assert _count(factory, Hazard) == hazards_before + 2 == hazards_before + len(created)

    ids = _item_ids(factory, "industry")
    with transaction(factory) as s:
        found = {h.judged_items[0].id: h for h in s.scalars(select(Hazard).where(Hazard.id.in_(created)))}
        standard_item = s.get(StandardItem, ids["GM-2023 第十一条(三)"])
        assert standard_item is not None
        major = found[standard_item.id]
        assert (major.level, major.source, major.location, major.description) == (
            "major", "self_inspection", "储罐区", "报警器不报警")
        assert major.title == standard_item.text.rstrip("；;。.")[:200]  # named after the item it was found against
        assert [e.stage for e in s.scalars(select(Evidence).where(Evidence.hazard_id == major.id))] == ["photos_before"]
        key_hazard = found[ids["KEY-IND-2026 K1"]]  # a key inspection item records the item, not the level
        assert (key_hazard.level, key_hazard.category, key_hazard.location) == ("general", "violation", "污水池")
        linked = dict(s.execute(select(SelfInspectionAnswer.checklist_item_id, SelfInspectionAnswer.hazard_id)
                                .where(SelfInspectionAnswer.self_inspection_id == walk_id)).all())
    assert linked == {lines[0]: major.id, lines[1]: None, lines[2]: None, lines[3]: key_hazard.id}

    with pytest.raises(ConflictError):  # submitted once only
        _submit(factory, officer, walk_id)
    assert _count(factory, Hazard) == hazards_before + 2

    with pytest.raises(PermissionDeniedError):  # only the principal signs
        _sign(factory, officer, walk_id, officer.display_name)
    with pytest.raises(InvalidInputError):
        _sign(factory, zone.principal, walk_id, "别人")
    monday, _ = week_of(T0.date())
    with transaction(factory) as s:
        assert period_statistics(s, monday, monday + timedelta(days=7)).total["inspected"] == 0  # not yet signed
    _sign(factory, zone.principal, walk_id, zone.principal.display_name)
    with transaction(factory) as s:
        stats = period_statistics(s, monday, monday + timedelta(days=7))
    department = next(u for u in stats.departments if u.name == "D1单位")
    assert (stats.total["inspected"], stats.total["items_checked"]) == (1, 4)
    assert (department.figures["inspected"], department.figures["items_checked"]) == (1, 4)


def test_an_enterprise_sees_only_its_own_sectors_checklists(factory, zone: Zone) -> None:
    industry_id, _ = _industry_checklist(factory, zone)
    transport_items = list(_item_ids(factory, "transport").values())
    industry_items = list(_item_ids(factory, "industry").values())
    assert transport_items, "the seed has a transport standard"
    with transaction(factory) as s:
        with pytest.raises(PermissionDeniedError):  # a department builds checklists for its own sectors only
            walks.create_checklist(s, zone.department, "transport", "越权清单", transport_items[:1], T0)
        with pytest.raises(InvalidInputError):  # and only from items in force for that sector
            walks.create_checklist(s, zone.other_department, "transport", "错配清单",
                                   industry_items[:1], T0)
        transport_id = walks.create_checklist(s, zone.other_department, "transport", "交通运输自查清单",
                                              transport_items[:2], T0).id

    def visible(user) -> set[int]:
        with transaction(factory) as s:
            return set(s.scalars(walks.visible_checklists(select(Checklist.id), user)))

    assert visible(zone.principal) == {industry_id}
    assert visible(zone.outsider) == {transport_id}
    assert visible(zone.department) == {industry_id}
    assert visible(zone.office) == visible(zone.town) == {industry_id, transport_id}
    with pytest.raises(NotFoundError), transaction(factory) as s:
        walks.start_walk(s, zone.outsider, industry_id, "self_inspection", T0)
    with transaction(factory) as s:
        walk_id = walks.start_walk(s, zone.principal, industry_id, "principal_inspection", T0).id
    for stranger in (zone.outsider, zone.other_department):
        with pytest.raises(NotFoundError), transaction(factory) as s:
            walks.get_inspection(s, stranger, walk_id)
    with transaction(factory) as s:
        walks.withdraw_checklist(s, zone.department, industry_id, T0)
    assert visible(zone.principal) == set()  # withdrawn: no new walks
    with transaction(factory) as s:  # the walk already made stays visible to its enterprise
        assert walks.get_inspection(s, zone.principal, walk_id).checklist_id == industry_id


def test_two_people_saving_the_same_walk_at_once_the_second_is_told(factory, zone: Zone) -> None:
    checklist_id, lines = _industry_checklist(factory, zone)
    with transaction(factory) as s:
        walk_id = walks.start_walk(s, zone.safety_officer, checklist_id, "self_inspection", T0).id
    seen = _version(factory, walk_id)
    with transaction(factory) as s:
        walks.save_answers(s, zone.safety_officer, walk_id, seen, {lines[0]: walks.AnswerInput("compliant")},
                           EVIDENCE, T0)
    with pytest.raises(ConflictError), transaction(factory) as s:
        walks.save_answers(s, zone.principal, walk_id, seen, {lines[0]: walks.AnswerInput("not_applicable")},
                           EVIDENCE, T0)
    with transaction(factory) as s:
        assert walks.answers_of(s, walk_id)[lines[0]].answer == "compliant"


def test_a_photo_saved_on_a_walk_can_be_taken_off_before_submitting(factory, zone: Zone) -> None:
    checklist_id, lines = _industry_checklist(factory, zone)
    with transaction(factory) as s:
        walk_id = walks.start_walk(s, zone.safety_officer, checklist_id, "self_inspection", T0).id
    colours = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black", "orange", "purple"]
    photos = [check_photo(png(c), f"{c}.png") for c in colours]
    found = ("found", "报警器不报警", "储罐区", "equipment")
    _save(factory, zone.safety_officer, walk_id, {lines[0]: walks.AnswerInput(*found, photos[:9])})
    wrong, tenth = photos[0].sha256, photos[9]
    with pytest.raises(InvalidInputError, match="照片不超过 9 张"):  # the limit counts what is kept
        _save(factory, zone.safety_officer, walk_id, {lines[0]: walks.AnswerInput(*found, [tenth])})
    _save(factory, zone.safety_officer, walk_id,
          {lines[0]: walks.AnswerInput(*found, [tenth], removed=frozenset({wrong}))})
    with transaction(factory) as s:
        kept = [p["sha256"] for p in walks.answers_of(s, walk_id)[lines[0]].photos]
    assert kept == [p.sha256 for p in photos[1:]]
    rest = {line: walks.AnswerInput("compliant") for line in lines[1:]}
    _save(factory, zone.safety_officer, walk_id, rest)
    hazard_id = _submit(factory, zone.safety_officer, walk_id)[0]
    with transaction(factory) as s:  # the hazard starts with the photos kept, not the one taken off
        evidence = {e.sha256 for e in s.scalars(select(Evidence).where(Evidence.hazard_id == hazard_id))}
    assert evidence == set(kept)


def test_a_principal_led_walk_signed_completes_that_periods_principal_inspection_duty(factory, zone: Zone) -> None:
    checklist_id, lines = _industry_checklist(factory, zone)
    with transaction(factory) as s:
        assert open_due_duties(s, T0) > 0
        led = walks.start_walk(s, zone.principal, checklist_id, "principal_inspection", T0).id
        earlier = walks.start_walk(s, zone.principal, checklist_id, "principal_inspection", T0).id
        plain = walks.start_walk(s, zone.safety_officer, checklist_id, "self_inspection", T0).id
    for walk_id in (led, earlier, plain):
        _save(factory, zone.principal, walk_id, {line: walks.AnswerInput("compliant") for line in lines})
        _submit(factory, zone.principal, walk_id)

    def duty() -> Duty:
        with transaction(factory) as s:
            return s.scalars(select(Duty).where(Duty.enterprise_id == zone.enterprise_id,
                                                Duty.kind == "principal_inspection")).one()

    with transaction(factory) as s:  # 附表1's 排查企业数 counts an enterprise once its walk is signed
        town = s.get(Organisation, zone.town.organisation_id)
        assert weekly_figures(s, town, T0)["enterprises_covered"] == 0
    _sign(factory, zone.principal, plain, zone.principal.display_name)  # a plain self-inspection is not the duty
    assert duty().status == "open"
    with transaction(factory) as s:
        assert weekly_figures(s, town, T0)["enterprises_covered"] == 1
    with pytest.raises(InvalidInputError, match="参加检查的人数"):  # the duty's record needs how many took part
        _sign(factory, zone.principal, led, zone.principal.display_name)
    with transaction(factory) as s:  # a colleague claimed the duty's task: it is theirs to complete
        task_id = s.scalar(select(InboxTask.task_id).where(InboxTask.instance_id == duty().instance_id))
        inbox.claim(s, zone.safety_officer, task_id, T0)
    version = _version(factory, earlier)
    with transaction(factory) as s:
        assert walks.sign_walk(s, zone.principal, earlier, version, zone.principal.display_name, T0, 3) is None
    assert duty().status == "open"
    with transaction(factory) as s:
        inbox.release(s, zone.safety_officer, task_id, T0)
    with transaction(factory) as s:
        assert s.get(SelfInspection, led).status == "submitted"
    version = _version(factory, led)
    with transaction(factory) as s:
        completed = walks.sign_walk(s, zone.principal, led, version, zone.principal.display_name,
                                    T0 + timedelta(hours=2), participants=6)
        assert completed is not None
    done = duty()
    assert (done.id, done.status, done.performed_on) == (completed.id, "done", T0.date())
    with transaction(factory) as s:
        task = s.scalars(select(InboxTask).where(InboxTask.instance_id == done.instance_id)).one()
        record = s.scalars(select(AuditEntry).where(AuditEntry.action == "complete_task",
                                                    AuditEntry.object_type == "duty",
                                                    AuditEntry.object_id == str(done.id))).one()
    assert task.completed_at is not None and task.completed_by_id == zone.principal.id
    assert record.detail["data"]["participants"] == 6 and record.detail["data"]["led_by"] == zone.principal.display_name
    assert f"检查 {len(lines)} 项，发现隐患 0 项" in record.detail["data"]["content"]


def test_through_the_web_a_department_builds_and_an_enterprise_walks_signs_and_sees_the_hazard(
        factory, zone: Zone, tmp_path) -> None:
    app = make_app(factory, tmp_path, T0)
    dept, officer, boss, outsider = (app.test_client() for _ in range(4))
    for client, name in ((dept, "dept"), (officer, "safety"), (boss, "boss"), (outsider, "outsider")):
        sign_in(client, name)
    ids = _item_ids(factory, "industry")
    chosen = [ids["GM-2023 第十一条(三)"], ids["GM-2023 第三条(一)"]]
    page = dept.get("/checklists/new").get_data(as_text=True)
    assert "第十一条(三)" in page and 'data-filter="#pick"' in page
    token = csrf(dept, "/checklists/new")
    assert dept.post("/checklists/new", data={"title": "", "item": chosen, "sector": "industry",
                                              "csrf_token": token}).status_code == 422
    built = dept.post("/checklists/new", data={"title": "工贸自查清单", "item": chosen, "sector": "industry",
                                               "csrf_token": token})
    checklist_path = built.headers["Location"]
    assert built.status_code == 302 and dept.get("/checklists/new?sector=transport").status_code == 400
    assert "工贸自查清单" in officer.get("/checklists").get_data(as_text=True)
    assert "工贸自查清单" not in outsider.get("/checklists").get_data(as_text=True)
    assert outsider.get(checklist_path).status_code == 404

    with transaction(factory) as s:
        open_due_duties(s, T0)
    started = officer.post(f"{checklist_path}/walks", data={"kind": "principal_inspection",
                                                            "csrf_token": csrf(officer, checklist_path)})
    walk_path = started.headers["Location"]
    with transaction(factory) as s:
        walk = s.scalars(select(SelfInspection)).one()
        lines = [line.id for line in walks.checklist_items(s, walk.checklist_id)]
    token = csrf(officer, walk_path)
    form = {"csrf_token": token, "version": walk.version, f"answer-{lines[0]}": "found",
            f"note-{lines[0]}": "除尘器无泄爆装置", f"location-{lines[0]}": "抛光车间",
            f"category-{lines[0]}": "equipment", f"photos-{lines[0]}": (io.BytesIO(png("purple")), "dust.png"),
            "action": "submit"}
    refused = officer.post(walk_path, data=form, content_type="multipart/form-data")
    assert refused.status_code == 422 and "尚有 1 项未检查" in refused.get_data(as_text=True)
    assert _count(factory, SelfInspectionAnswer) == 0  # the save in the refused submission was rolled back
    form.update({f"answer-{lines[1]}": "compliant", f"photos-{lines[0]}": (io.BytesIO(png("purple")), "dust.png")})
    done = officer.post(walk_path, data=form, content_type="multipart/form-data", follow_redirects=True)
    shown = done.get_data(as_text=True)
    assert done.status_code == 200 and "待主要负责人签字" in shown and "/sign" not in shown
    hid = int(re.search(r"/hazards/(\d+)", shown).group(1))
    photo = re.search(r'src="(/self-inspections/\d+/files/[0-9a-f]+\?thumb=1)"', shown).group(1)
    assert officer.get(photo).mimetype == "image/jpeg" and outsider.get(photo).status_code == 404
    hazard_page = boss.get(f"/hazards/{hid}").get_data(as_text=True)
    assert "除尘器无泄爆装置" in hazard_page and "重大事故隐患" in hazard_page

    sign_page = boss.get(walk_path).get_data(as_text=True)
    assert f"{walk_path}/sign" in sign_page and 'name="participants"' in sign_page  # a principal-led walk
    version = re.search(r'name="version" value="(\d+)"', sign_page).group(1)
    for wrong in ({"signature": "别人", "participants": "4"}, {"signature": "boss姓名", "participants": ""}):
        assert boss.post(f"{walk_path}/sign", data={**wrong, "version": version,
                                                    "csrf_token": csrf(boss, walk_path)}).status_code == 422
    signed = boss.post(f"{walk_path}/sign", data={"signature": "boss姓名", "participants": "4", "version": version,
                                                  "csrf_token": csrf(boss, walk_path)}, follow_redirects=True)
    assert "已签字确认，并完成 2026-Q4 主要负责人带队检查履职事项" in signed.get_data(as_text=True)


def test_through_the_web_a_photo_ticked_for_removal_is_taken_off_the_walk(factory, zone: Zone, tmp_path) -> None:
    checklist_id, lines = _industry_checklist(factory, zone)
    with transaction(factory) as s:
        walk_id = walks.start_walk(s, zone.safety_officer, checklist_id, "self_inspection", T0).id
    officer = make_app(factory, tmp_path, T0).test_client()
    sign_in(officer, "safety")
    walk_path = f"/self-inspections/{walk_id}"

    def save(**fields) -> str:  # type: ignore[no-untyped-def]
        form = {"csrf_token": csrf(officer, walk_path), "version": _version(factory, walk_id), "action": "save",
                f"answer-{lines[0]}": "compliant", **fields}
        saved = officer.post(walk_path, data=form, content_type="multipart/form-data", follow_redirects=True)
        assert saved.status_code == 200
        return saved.get_data(as_text=True)

    page = save(**{f"photos-{lines[0]}": [(io.BytesIO(png("red")), "a.png"), (io.BytesIO(png("blue")), "b.png")]})
    ticks = re.findall(rf'name="remove-{lines[0]}" value="([0-9a-f]+)"', page)
    assert len(ticks) == 2
    page = save(**{f"remove-{lines[0]}": ticks[0]})
    assert re.findall(rf'name="remove-{lines[0]}" value="([0-9a-f]+)"', page) == ticks[1:]
    assert officer.get(f"{walk_path}/files/{ticks[0]}").status_code == 404  # no longer served for this walk
    assert officer.get(f"{walk_path}/files/{ticks[1]}").status_code == 200
