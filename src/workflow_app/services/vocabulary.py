"""Display names (zh-CN) of the codes stored in records; the web translates them, exports print them."""

from __future__ import annotations

LEVELS = {"general": "一般隐患", "major": "重大事故隐患"}
STATUSES = {
    "reported": "已上报", "pending_triage": "待研判", "rejected": "不予受理", "awaiting_plan": "待制定整改方案",
    "plan_review": "方案审核中", "rectifying": "整改中", "extension_review": "延期审批中", "verifying": "待验收",
    "closed": "已销号",
}
SOURCES = {"self_inspection": "企业自查", "enforcement": "执法检查", "public_report": "群众举报",
           "whistleblower": "内部吹哨人", "lesson_learned": "举一反三"}
