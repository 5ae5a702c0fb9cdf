"""Walking a checklist on the web (issue #20): saving stays where one is, one item per screen, 合格 folds."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import T0, Zone
from helpers import EVIDENCE
from sqlalchemy.orm import Session, sessionmaker
from web_support import csrf, make_app, png, sign_in, upload

from workflow_app.services import self_inspections as walks
from workflow_app.services import standards
from workflow_app.store.database import transaction
from workflow_app.store.models import SelfInspection

ITEMS = 18  # a long checklist: more than the 15 after which the list offers one item per screen


def _key_items(count: int) -> bytes:
    rows = "".join(f"KEY-WALK,key_items,工贸行业重点检查事项,D1单位,D1〔2026〕2号,2026-01-01,industry,,是,K{n},,"
                   f"检查事项第{n}条\n" for n in range(1, count + 1))
    return f"{','.join(standards.COLUMNS)}\n{rows}".encode()


def _long_walk(factory: sessionmaker[Session], zone: Zone, count: int = ITEMS) -> tuple[int, list[int]]:
    """A walk of a checklist of `count` key inspection items, started by the safety officer; its line ids."""
    with transaction(factory) as s:
        standards.import_rows(s, zone.department, standards.read_table(_key_items(count), "k.csv"), T0)
        items = [i.id for i in standards.applicable_items(s, "industry", T0.date()) if i.standard.code == "KEY-WALK"]
        checklist = walks.create_checklist(s, zone.department, "industry", "工贸企业逐项自查清单", items, T0)
        walk_id = walks.start_walk(s, zone.safety_officer, checklist.id, "self_inspection", T0).id
        lines = [line.id for line in walks.checklist_items(s, checklist.id)]
    assert len(lines) == count
    return walk_id, lines


def _answer(factory: sessionmaker[Session], zone: Zone, walk_id: int, lines: list[int], numbers: list[int]) -> None:
    """Answer items `numbers` (1-based) 合格."""
    with transaction(factory) as s:
        version = s.get(SelfInspection, walk_id).version  # type: ignore[union-attr]
    with transaction(factory) as s:
        walks.save_answers(s, zone.safety_officer, walk_id, version,
                           {lines[n - 1]: walks.AnswerInput("compliant") for n in numbers}, EVIDENCE, T0)


def _version(factory: sessionmaker[Session], walk_id: int) -> int:
    with transaction(factory) as s:
        return s.get(SelfInspection, walk_id).version  # type: ignore[union-attr]


def _saved(factory: sessionmaker[Session], walk_id: int) -> dict[int, str]:
    with transaction(factory) as s:
        return {line: a.answer for line, a in walks.answers_of(s, walk_id).items()}


class Page(HTMLParser):
    """What the tests look at in a walk page: elements by id, the check items, labels and the inputs."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.items: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.options: dict[str, list[tuple[str, str]]] = {}
        self._select: str | None = None
        self._option: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        a["tag"] = tag
        if a.get("id"):
            self.by_id[a["id"] or ""] = a
        if tag == "fieldset" and "check-item" in (a.get("class") or ""):
            self.items.append(a)
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"] or "")
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden",):
            self.controls.append(a)
        if tag == "select":
            self._select = a.get("id")
            self.options[self._select or ""] = []
        if tag == "option":
            self._option = a.get("value")

    def handle_data(self, data: str) -> None:
        if self._select and self._option is not None and data.strip():
            self.options[self._select].append((self._option, data.strip()))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None

    def item_of(self, path: str) -> int | None:
        """The item number a link of the one-item mode leads to."""
        href = self.by_id[path].get("href")
        if href is None:
            return None
        query = parse_qs(urlsplit(href).query)
        assert query["one"] == ["1"]
        return int(query["item"][0])


@pytest.fixture
def walker(factory, zone: Zone, tmp_path):  # type: ignore[no-untyped-def]
    client = make_app(factory, tmp_path, T0).test_client()
    sign_in(client, "safety")
    return client


def test_saving_in_the_list_comes_back_to_the_item_the_walker_was_at(factory, zone: Zone, walker) -> None:
    walk_id, lines = _long_walk(factory, zone)
    path = f"/self-inspections/{walk_id}"
    page = walker.get(path).get_data(as_text=True)
    assert len(Page(page).items) == ITEMS and f'name="save_at" value="{ITEMS}"' in page  # a 保存 per item

    def save(**fields: str):  # type: ignore[no-untyped-def]
        form = {"csrf_token": csrf(walker, path), "version": str(_version(factory, walk_id)), **fields}
        return walker.post(path, data=form)

    saved = save(**{f"answer-{lines[6]}": "compliant", "save_at": "7"})  # item 7's own 保存 (no JavaScript)
    assert saved.status_code == 303 and saved.headers["Location"] == f"{path}#item-7"
    assert _saved(factory, walk_id) == {lines[6]: "compliant"}
    assert "已保存" in walker.get(path).get_data(as_text=True)
    saved = save(**{f"answer-{lines[2]}": "not_applicable", "action": "save", "at": "3"})  # the item last touched
    assert saved.headers["Location"] == f"{path}#item-3"
    saved = save(**{f"answer-{lines[0]}": "compliant", "action": "save", "at": ""})  # else the first unanswered
    assert saved.headers["Location"] == f"{path}#item-2"
    for wrong in ("0", "99", "abc"):  # a made-up place is no place: the first unanswered
        assert save(action="save", at=wrong).headers["Location"] == f"{path}#item-2"
    assert _saved(factory, walk_id) == {lines[6]: "compliant", lines[2]: "not_applicable", lines[0]: "compliant"}
    assert 'id="item-7"' in walker.get(path).get_data(as_text=True)  # the anchor is there


def test_a_refused_save_shows_everything_typed_again_at_the_same_item(factory, zone: Zone, walker) -> None:
    walk_id, lines = _long_walk(factory, zone)
    path = f"/self-inspections/{walk_id}"
    typed = {f"answer-{lines[4]}": "found", f"note-{lines[4]}": "<b>护栏缺失</b>", f"category-{lines[4]}": "equipment",
             f"answer-{lines[5]}": "compliant"}
    for one in (False, True):
        form = {"csrf_token": csrf(walker, path), "version": str(_version(factory, walk_id)), "action": "save",
                "at": "5", **({"one": "1"} if one else {}), **typed}
        refused = walker.post(path, data=form)
        page = refused.get_data(as_text=True)
        assert refused.status_code == 422 and "第 5 项（K5）：发现隐患须填写隐患部位" in page
        assert "&lt;b&gt;护栏缺失&lt;/b&gt;" in page and "<b>护栏缺失" not in page  # kept, and escaped
        assert re.search(rf'id="answer-{lines[4]}-found"[^>]*checked', page)
        assert re.search(r'<option value="equipment" selected', page)
        shown = Page(page)
        assert len(shown.items) == (1 if one else ITEMS)
        if one:
            assert shown.items[0]["id"] == f"line-{lines[4]}" and shown.by_id["walk-progress"]
        else:
            assert re.search(rf'id="answer-{lines[5]}-compliant"[^>]*checked', page)
    assert _saved(factory, walk_id) == {}


def test_one_item_per_screen_shows_one_item_and_where_to_go_from_it(factory, zone: Zone, walker) -> None:
    walk_id, lines = _long_walk(factory, zone)
    _answer(factory, zone, walk_id, lines, [1, 2, 4, 18])
    path = f"/self-inspections/{walk_id}"
    listed = Page(walker.get(path).get_data(as_text=True))
    assert listed.by_id["mode-one"]["class"] == "button"  # a long list offers one item per screen, prominently
    assert listed.by_id["mode-one"]["href"] == f"{path}?one=1"

    page = walker.get(f"{path}?one=1").get_data(as_text=True)  # by default, the first unanswered
    shown = Page(page)
    assert [i["id"] for i in shown.items] == [f"line-{lines[2]}"]
    assert "第 3 / 共 18 项，已答 4 项" in page and "检查事项第3条" in page and "D1〔2026〕2号" in page
    assert (shown.item_of("prev-item"), shown.item_of("next-item"), shown.item_of("next-open")) == (2, 4, 5)
    assert shown.by_id["mode-list"]["href"] == f"{path}#item-3"
    assert shown.by_id[f"answer-{lines[2]}-found"]["tag"] == "input"
    jump = shown.options["jump-item"]
    assert [v for v, _ in jump] == [str(n) for n in range(1, ITEMS + 1)]
    assert jump[0][1].endswith("已答") and jump[2][1].endswith("未答") and jump[17][1].endswith("已答")
    assert re.search(r'<form method="get" action="/self-inspections/\d+" class="walk-jump">', page)
    assert re.search(r'<option value="3" selected>', page)

    first = Page(walker.get(f"{path}?one=1&item=1").get_data(as_text=True))
    assert first.item_of("prev-item") is None and first.by_id["prev-item"]["aria-disabled"] == "true"
    assert (first.item_of("next-item"), first.item_of("next-open")) == (2, 3)
    last = Page(walker.get(f"{path}?one=1&item=17").get_data(as_text=True))
    assert (last.item_of("prev-item"), last.item_of("next-item"), last.item_of("next-open")) == (16, 18, 3)  # wraps
    end = Page(walker.get(f"{path}?one=1&item=18").get_data(as_text=True))
    assert end.item_of("next-item") is None and end.item_of("next-open") == 3
    jumped = walker.get(f"{path}?one=1&item=12")  # the jump list's GET form
    assert jumped.status_code == 200 and [i["id"] for i in Page(jumped.get_data(as_text=True)).items] == [
        f"line-{lines[11]}"]


def test_saving_one_item_and_going_on_keeps_the_answer(factory, zone: Zone, walker) -> None:
    walk_id, lines = _long_walk(factory, zone, 4)
    path = f"/self-inspections/{walk_id}"
    short = Page(walker.get(path).get_data(as_text=True))
    assert "secondary" in (short.by_id["mode-one"]["class"] or "")  # a short list offers it quietly

    def save(at: int, action: str, **fields: str):  # type: ignore[no-untyped-def]
        form = {"csrf_token": csrf(walker, f"{path}?one=1&item={at}"), "version": str(_version(factory, walk_id)),
                "one": "1", "at": str(at), "action": action, **fields}
        return walker.post(path, data=form)

    page = walker.get(f"{path}?one=1&item=2").get_data(as_text=True)
    assert 'value="next"' in page and 'value="submit"' not in page  # finishing waits for every answer
    moved = save(2, "next", **{f"answer-{lines[1]}": "compliant"})
    assert moved.status_code == 303 and moved.headers["Location"] == f"{path}?one=1&item=3"
    assert _saved(factory, walk_id) == {lines[1]: "compliant"}
    assert "已保存" in walker.get(moved.headers["Location"]).get_data(as_text=True)
    stayed = save(3, "save", **{f"answer-{lines[2]}": "found", f"note-{lines[2]}": "盲板未登记",
                                f"location-{lines[2]}": "管廊", f"category-{lines[2]}": "management"})
    assert stayed.headers["Location"] == f"{path}?one=1&item=3"
    went = save(3, "save", go="1", **{f"answer-{lines[2]}": "found", f"note-{lines[2]}": "盲板未登记",  # walk.js
                                      f"location-{lines[2]}": "管廊", f"category-{lines[2]}": "management"})
    assert went.headers["Location"] == f"{path}?one=1&item=1"  # a link followed with the answer unsaved
    assert save(4, "next", **{f"answer-{lines[3]}": "compliant"}).headers["Location"] == f"{path}?one=1&item=1"
    page = walker.get(f"{path}?one=1&item=1").get_data(as_text=True)  # the last unanswered: finishing is offered
    assert 'value="submit"' in page and Page(page).item_of("next-open") == 1
    done = save(1, "submit", **{f"answer-{lines[0]}": "not_applicable"})
    assert done.status_code == 303 and done.headers["Location"] == path
    with transaction(factory) as s:
        assert s.get(SelfInspection, walk_id).status == "submitted"  # type: ignore[union-attr]
    after = Page(walker.get(f"{path}?one=1&item=3").get_data(as_text=True))  # read-only, still walkable
    assert len(after.items) == 1 and after.by_id["next-open"]["href"] == path and "walk-form" not in after.by_id


@pytest.mark.parametrize("item", ["0", "9999", "abc", "-1", "²", "1" * 40])
def test_an_item_that_is_not_there_is_a_friendly_400(factory, zone: Zone, walker, item: str) -> None:
    walk_id, _ = _long_walk(factory, zone, 4)
    refused = walker.get(f"/self-inspections/{walk_id}?one=1&item={item}")
    assert refused.status_code == 400 and "本清单共 4 项" in refused.get_data(as_text=True)


def test_another_enterprise_sees_no_walk_in_either_mode(factory, zone: Zone, walker, tmp_path) -> None:
    walk_id, lines = _long_walk(factory, zone, 4)
    path = f"/self-inspections/{walk_id}"
    outsider = make_app(factory, tmp_path / "o", T0).test_client()
    sign_in(outsider, "outsider")
    for asked in ("", "?one=1", "?one=1&item=2", "?one=1&item=0", "?one=1&item=9999", "?one=1&item=abc"):
        assert outsider.get(path + asked).status_code == 404, asked  # not even how many items it has
    form = {"csrf_token": csrf(outsider, "/checklists"), "version": str(_version(factory, walk_id)), "one": "1",
            "at": "1", "action": "next", f"answer-{lines[0]}": "compliant"}
    assert outsider.post(path, data=form).status_code == 404
    assert _saved(factory, walk_id) == {}
    english = walker.get(f"{path}?one=1&item=2", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Item 2 of 4, 0 answered" in english and "Next unanswered" in english


def test_answered_compliant_the_details_fold_and_every_control_has_its_label(factory, zone: Zone, walker) -> None:
    walk_id, lines = _long_walk(factory, zone, 4)
    path = f"/self-inspections/{walk_id}"
    for address in (path, f"{path}?one=1&item=2"):
        page = walker.get(address).get_data(as_text=True)
        shown = Page(page)
        details = [a for i, a in shown.by_id.items() if i.startswith("details-")]
        assert details and all(d["data-fold-when"] == "compliant" for d in details)
        assert page.count("以下仅发现隐患时填写") == len(details)  # without JavaScript: shown, with the note
        assert 'src="/static/walk.js"' in page
        unlabelled = [c for c in shown.controls if c.get("id") not in shown.label_for and c.get("class") != "hp"]
        assert unlabelled == [] and shown.controls
    fold = re.search(r'id="details-2".*?</div>\s*</div>', page, re.S)
    assert fold and all(f'id="{name}-{lines[1]}"' in fold.group(0) for name in ("note", "location", "category",
                                                                                 "photos"))


def test_photos_sent_with_a_refused_save_are_kept_for_the_retry(factory, zone: Zone, walker, tmp_path) -> None:
    walk_id, lines = _long_walk(factory, zone, 4)
    path = f"/self-inspections/{walk_id}"
    line = lines[1]
    form = {"csrf_token": csrf(walker, path), "version": str(_version(factory, walk_id)), "action": "save",
            "one": "1", "at": "2", f"answer-{line}": "found", f"note-{line}": "护栏缺失",
            f"category-{line}": "equipment",
            f"photos-{line}": [upload(png("red"), "a.png"), upload(png("blue"), "b.png")]}
    refused = walker.post(path, data=form, content_type="multipart/form-data")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "隐患部位" in page
    kept = re.findall(rf'name="staged_photos-{line}" value="([0-9a-f]{{64}})" checked', page)
    assert len(kept) == 2
    assert walker.get(f"/staged/walk-{walk_id}/{kept[0]}").status_code == 200
    outsider = make_app(factory, tmp_path / "o", T0).test_client()
    sign_in(outsider, "outsider")
    assert outsider.get(f"/staged/walk-{walk_id}/{kept[0]}").status_code == 404  # only the one who sent it
    retry = {"csrf_token": csrf(walker, path), "version": str(_version(factory, walk_id)), "action": "next",
             "one": "1", "at": "2", f"answer-{line}": "found", f"note-{line}": "护栏缺失",
             f"location-{line}": "二层平台", f"category-{line}": "equipment", f"staged_photos-{line}": kept[1]}
    saved = walker.post(path, data=retry, content_type="multipart/form-data")
    assert saved.status_code == 303 and saved.headers["Location"] == f"{path}?one=1&item=3"
    with transaction(factory) as s:
        assert [p["sha256"] for p in walks.answers_of(s, walk_id)[line].photos] == [kept[1]]  # the one still ticked
    assert walker.get(f"/staged/walk-{walk_id}/{kept[1]}").status_code == 404  # staging is cleared once saved
    forged = {**retry, "version": str(_version(factory, walk_id)), f"staged_photos-{line}": "0" * 64}
    assert walker.post(path, data=forged, content_type="multipart/form-data").status_code == 422
