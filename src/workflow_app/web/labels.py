"""Display names of stored codes (message ids in zh-CN; the catalog has English)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import format_datetime, get_locale, gettext
from flask_login import current_user

from ..services.duty_subject import KIND_NAMES as DUTY_KINDS
from ..services.history_words import HistoryLine
from ..services.penalties import KINDS as PENALTY_KINDS
from ..services.penalties import TARGETS as PENALTY_TARGETS
from ..services.roles import sources_offered_to
from ..services.vocabulary import LEVELS, SOURCES, STATUSES

ACTIONS = {"report_hazard": "上报隐患", "complete_task": "办理", "timer_fired": "时限提醒",
           "notices_sent": "通知送达",
           "record_inspection": "执法检查", "start_campaign": "启动专项行动", "start_case": "发起",
           "incident": "流程出错", "incident_retried": "故障重试", "incident_skipped": "故障跳过",
           "claim_task": "认领", "release_task": "退回", "reassign_task": "转交", "delegate": "委托代办",
           "revoke_delegation": "结束委托", "spot_check_result": "抽检复核", "reopen_hazard": "重新整改",
           "rejudge_hazard": "重新判定等级", "import_standards": "导入判定标准",
           "create_checklist": "发布自查清单", "withdraw_checklist": "停用自查清单",
           "start_self_inspection": "开始自查", "submit_self_inspection": "提交自查",
           "sign_self_inspection": "主要负责人签字", "set_principal": "设定主要负责人",
           "add_attachment": "添加附件", "issue_document": "出具文书", "record_penalty": "行政处罚",
           "draw_inspection_plan": "抽取双随机抽查计划"}
CASE_STATUSES = {"running": "办理中", "completed": "已办结", "closed": "已关闭", "voided": "已作废",
                 "rejected": "不予批准"}
WALK_KINDS = {"self_inspection": "企业自查", "principal_inspection": "主要负责人带队检查"}
WALK_STATUSES = {"walking": "检查中", "submitted": "待主要负责人签字", "signed": "已签字"}
ANSWER_NAMES = {"compliant": "合格", "found": "发现隐患", "not_applicable": "不适用"}
CATEGORY_NAMES = {"equipment": "设施设备故障", "violation": "非法违规行为", "management": "安全管理缺陷"}
SORT_NAMES = {"newest": "最新上报", "oldest": "最早上报", "deadline": "整改时限", "code": "编号"}
TABS = {"todo": "待我办理", "mine": "我认领的", "watch": "督办跟踪"}


def local_time(moment: datetime | None) -> str:
    """An instant as Asia/Shanghai wall time (the app's Babel time zone)."""
    return format_datetime(moment, "yyyy-MM-dd HH:mm") if moment else ""


def history_in_words(lines: list[HistoryLine]) -> list[dict[str, Any]]:
    """History entries for the API: the raw fields for machines, and beside them what was done and chosen in
    words of the request's language (as the pages say it, templates/_history.html)."""
    english = str(get_locale()) == "en"
    colon, semicolon = (": ", "; ") if english else ("：", "；")
    shown = []
    for line in lines:
        entry = line.entry
        detail = entry.detail or {}
        action = gettext(ACTIONS.get(entry.action, "办理"))
        if detail.get("name"):
            action += colon + gettext(str(detail["name"]))
        notes = [{"label": gettext(n.label), "text": gettext(n.text) if n.words else n.text} for n in line.notes]
        chosen = [f"{note['label']}{colon}{note['text']}" for n, note in zip(line.notes, notes, strict=True)
                  if n.words]
        shown.append({"at": entry.at, "actor_name": entry.actor_name, "action": entry.action, "detail": detail,
                      "action_label": action, "outcome_label": semicolon.join(chosen) or None, "notes": notes})
    return shown


def _source_choices() -> dict[str, Any]:
    """The sources the signed-in user's filters offer (SOURCE_CHOICES in templates)."""
    if not current_user.is_authenticated:
        return {"SOURCE_CHOICES": SOURCES}
    return {"SOURCE_CHOICES": sources_offered_to(current_user.user, SOURCES)}


def init_app(app: Flask) -> None:
    app.context_processor(_source_choices)
    app.jinja_env.globals.update(LEVELS=LEVELS, STATUSES=STATUSES, SOURCES=SOURCES, ACTIONS=ACTIONS, TAB_NAMES=TABS,
                               DUTY_KINDS=DUTY_KINDS, SORT_NAMES=SORT_NAMES,
                               CASE_STATUSES=CASE_STATUSES, WALK_KINDS=WALK_KINDS, WALK_STATUSES=WALK_STATUSES,
                               ANSWER_NAMES=ANSWER_NAMES, CATEGORY_NAMES=CATEGORY_NAMES,
                               PENALTY_KINDS=PENALTY_KINDS, PENALTY_TARGETS=PENALTY_TARGETS)
    app.jinja_env.filters["local_time"] = local_time
