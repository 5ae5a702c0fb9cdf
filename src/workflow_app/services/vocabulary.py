"""Display names (zh-CN) of the codes stored in records; the web translates them, exports print them."""

from __future__ import annotations

from .errors import InvalidInputError

LEVELS = {"general": "一般隐患", "major": "重大事故隐患"}
STATUSES = {
    "reported": "已上报", "pending_triage": "待研判", "rejected": "不予受理", "awaiting_plan": "待制定整改方案",
    "plan_review": "方案审核中", "rectifying": "整改中", "extension_review": "延期审批中", "verifying": "待验收",
    "closed": "已销号",
}
SOURCES = {"self_inspection": "企业自查", "enforcement": "执法检查", "public_report": "群众举报",
           "whistleblower": "内部吹哨人", "lesson_learned": "举一反三"}

UNKNOWN_FILTER = "筛选条件无效"


def check_filters(level: str | None, status: str | None, source: str | None) -> None:
    """A list filtered by a level, status or source no record has is a mistyped or stale link: say so
    (without echoing the value) instead of showing an empty list."""
    for value, known in ((level, LEVELS), (status, STATUSES), (source, SOURCES)):
        if value is not None and value not in known:
            raise InvalidInputError(UNKNOWN_FILTER)
