"""WeCom and DingTalk group robots get message cards linking to the hazard (issue #23), checked by a robot
server on loopback that accepts only what the providers document: WeCom's template_card of card_type
text_notice (main_title, card_action of type 1 with a url, its field lengths), DingTalk's actionCard
(title, text, singleTitle, singleURL); anything else is answered with the providers' error codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Zone
from helpers import report
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.services.channels import DeliveryError, WebhookChannel
from workflow_app.services.dispatch import dispatch
from workflow_app.services.robot_cards import robot_kind
from workflow_app.store.database import transaction
from workflow_app.store.models import Notice, Organisation

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
BASE = "https://yh.example.gov.cn"
HOSTILE = "配电箱[点我](https://evil.example)<font color=red>**着火**</font>\n# 标题" + "很长" * 60


def _problems_wecom(body: dict[str, Any]) -> list[str]:
    """What WeCom's robot would refuse in a template_card or markdown message (its documented fields)."""
    if body.get("msgtype") == "markdown":
        content = body.get("markdown", {}).get("content", "")
        return [] if content and len(content.encode("utf-8")) <= 4096 else ["markdown.content"]
    if body.get("msgtype") != "template_card":
        return ["msgtype"]
    card = body.get("template_card", {})
    problems = [] if card.get("card_type") == "text_notice" else ["card_type"]
    title, subtitle = card.get("main_title", {}).get("title", ""), card.get("sub_title_text", "")
    if not (title or subtitle) or len(title) > 26 or len(subtitle) > 112:
        problems.append("main_title")
    action = card.get("card_action", {})
    if action.get("type") != 1 or not str(action.get("url", "")).startswith(("http://", "https://")):
        problems.append("card_action")
    rows = card.get("horizontal_content_list", [])
    if len(rows) > 6 or any(not row.get("keyname") or len(row["keyname"]) > 5 or len(row.get("value", "")) > 26
                            for row in rows):
        problems.append("horizontal_content_list")
    return problems


def _problems_dingtalk(body: dict[str, Any]) -> list[str]:
    """What DingTalk's robot would refuse in an actionCard or markdown message."""
    kind = body.get("msgtype")
    if kind == "markdown":
        return [] if body["markdown"].get("title") and body["markdown"].get("text") else ["markdown"]
    if kind != "actionCard":
        return ["msgtype"]
    card = body.get("actionCard", {})
    return [name for name in ("title", "text", "singleTitle", "singleURL") if not card.get(name)]


class Robot(ThreadingHTTPServer):
    """WeCom's and DingTalk's robot endpoints on one loopback port: each checks its key (WeCom `key`,
    DingTalk `access_token`) and the message; it answers {"errcode": 0} or the provider's error."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        super().__init__(("127.0.0.1", 0), _RobotHandler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


class _RobotHandler(BaseHTTPRequestHandler):
    server: Robot

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if parts.path == "/cgi-bin/webhook/send":
            problems = _problems_wecom(body) if query.get("key") else ["key"]
            answer = {"errcode": 40035, "errmsg": f"invalid parameter: {problems}"} if problems else \
                {"errcode": 0, "errmsg": "ok"}
        elif parts.path == "/robot/send":
            problems = _problems_dingtalk(body) if query.get("access_token") else ["access_token"]
            answer = {"errcode": 300001, "errmsg": f"param error: {problems}"} if problems else \
                {"errcode": 0, "errmsg": "ok"}
        else:
            answer = {"errcode": 0, "errmsg": "ok"}
        self.server.received.append((parts.path, body))
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def robot() -> Iterator[Robot]:
    server = Robot()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _notice(factory: sessionmaker[Session], zone: Zone, webhook_url: str, title: str = "配电箱未接地") -> int:
    """A webhook notice about a new hazard of E1, whose robot is at `webhook_url`."""
    hazard_id = report(factory, zone.principal, zone.enterprise_id, NOW, hazard_level="general", title=title[:200])
    with transaction(factory) as s:
        s.get(Organisation, zone.enterprise_id).webhook_url = webhook_url  # type: ignore[union-attr]
        s.add(Notice(idempotency_key=f"card:{hazard_id}", channel="webhook", kind="overdue", hazard_id=hazard_id,
                     recipient_org_id=zone.enterprise_id,
                     subject=f"隐患整改已逾期：YH-1 {title[:200]}（整改时限 2026-12-01）",
                     body=f"隐患整改已逾期：YH-1 {title}\n企业：E1单位\n隐患部位：{title}\n触发：逾期", created_at=NOW))
    return hazard_id


def _send(factory: sessionmaker[Session], base_url: str | None) -> tuple[list[int], list[int]]:
    report_ = dispatch(factory, {"webhook": WebhookChannel(timeout=5, base_url=base_url)}, NOW)
    return report_.sent, report_.retrying + report_.parked


@pytest.mark.parametrize(("url", "kind"), [
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "wecom"),
    ("https://robots.zone.example/cgi-bin/webhook/send?key=abc", "wecom"),  # a proxy of one's own
    ("https://oapi.dingtalk.com/robot/send?access_token=abc", "dingtalk"),
    ("http://10.0.0.5:8080/dingtalk/robot/send?access_token=abc", "dingtalk"),
    ("https://relay.example/hook", "markdown"),
])
def test_the_robot_is_known_by_its_host_or_path(url: str, kind: str) -> None:
    assert robot_kind(url) == kind


def test_a_wecom_robot_gets_a_text_notice_card_opening_the_hazard(factory, zone: Zone, robot: Robot) -> None:
    """The hostile title arrives as plain text within WeCom's lengths; the card opens the hazard's page."""
    hazard_id = _notice(factory, zone, robot.url("/cgi-bin/webhook/send?key=k1"), HOSTILE)
    sent, failed = _send(factory, BASE)
    assert sent and not failed
    [(_, body)] = robot.received
    card = body["template_card"]
    assert body["msgtype"] == "template_card"
    assert card["card_action"] == {"type": 1, "url": f"{BASE}/hazards/{hazard_id}"}
    assert "\n" not in card["sub_title_text"] and card["sub_title_text"].endswith("…")
    assert {row["keyname"] for row in card["horizontal_content_list"]} == {"企业", "隐患部位", "触发"}


def test_a_dingtalk_robot_gets_an_action_card_with_escaped_markdown(factory, zone: Zone, robot: Robot) -> None:
    hazard_id = _notice(factory, zone, robot.url("/robot/send?access_token=t1"), HOSTILE)
    sent, failed = _send(factory, BASE)
    assert sent and not failed
    [(_, body)] = robot.received
    card = body["actionCard"]
    assert card["singleURL"] == f"{BASE}/hazards/{hazard_id}" and card["singleTitle"] == "查看详情"
    assert "](" not in card["text"] and "<font" not in card["text"] and "\n# " not in card["text"]
    assert len(card["title"]) <= 64


@pytest.mark.parametrize("path", ["/cgi-bin/webhook/send?key=k1", "/robot/send?access_token=t1", "/relay"])
def test_without_a_base_url_every_robot_gets_markdown_within_the_limit(factory, zone: Zone, robot: Robot,
                                                                       path: str) -> None:
    _notice(factory, zone, robot.url(path), HOSTILE * 20)
    sent, failed = _send(factory, None)
    assert sent and not failed
    [(_, body)] = robot.received
    assert body["msgtype"] == "markdown" and len(body["markdown"]["content"].encode("utf-8")) <= 4096
    assert "[点我](" not in body["markdown"]["content"]


def test_a_refused_card_is_retried_with_the_robots_reason(factory, zone: Zone, robot: Robot) -> None:
    """A robot key left out of the address: the robot's error code comes back as the reason."""
    _notice(factory, zone, robot.url("/cgi-bin/webhook/send"))
    sent, failed = _send(factory, BASE)
    assert not sent and failed
    with transaction(factory) as s:
        error = s.scalar(select(Notice.last_error).where(Notice.channel == "webhook"))
    assert "invalid parameter" in (error or "")
    with pytest.raises(DeliveryError):
        from workflow_app.services.channels import _check_robot_answer
        _check_robot_answer(b'{"errcode": 300001, "errmsg": "param error"}')
