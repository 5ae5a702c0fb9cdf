"""Display names of stored codes (message ids in zh-CN; the catalog has English)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime

from ..services.duty_subject import KIND_NAMES as DUTY_KINDS

LEVELS = {"general": "一般隐患", "major": "重大事故隐患"}
STATUSES = {
    "reported": "已上报", "pending_triage": "待研判", "rejected": "不予受理", "awaiting_plan": "待制定整改方案",
    "plan_review": "方案审核中", "rectifying": "整改中", "verifying": "待验收", "closed": "已销号",
}
SOURCES = {"self_inspection": "企业自查", "enforcement": "执法检查", "public_report": "群众举报",
           "whistleblower": "内部吹哨人", "lesson_learned": "举一反三"}
ACTIONS = {"report_hazard": "上报隐患", "complete_task": "办理", "timer_fired": "时限提醒",
           "record_inspection": "执法检查", "start_campaign": "启动专项行动"}
TABS = {"todo": "待我办理", "mine": "我认领的", "watch": "督办跟踪"}


def local_time(moment: datetime | None) -> str:
    """An instant as Asia/Shanghai wall time (the app's Babel time zone)."""
    return format_datetime(moment, "yyyy-MM-dd HH:mm") if moment else ""


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(LEVELS=LEVELS, STATUSES=STATUSES, SOURCES=SOURCES, ACTIONS=ACTIONS, TAB_NAMES=TABS,
                               DUTY_KINDS=DUTY_KINDS)
    app.jinja_env.filters["local_time"] = local_time
