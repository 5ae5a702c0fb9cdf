"""The printable enforcement documents (文书) as PDFs: one shared layout, one function per document.

Each page carries the issuing unit, the title, the serial number, the text built from the record
(services/document_contents.py), the issuer's sign-off with the date of issue, and a QR code with
the printed address of the record's page. Every string, typed by users or not, goes through
pdf_text.paragraph, so markup in a name or an opinion prints as the characters typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import IO, Any

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer, Table, TableStyle

from ..engine.calendar import SHANGHAI
from ..services.document_contents import (
    CloseoutSlip,
    Content,
    HazardFacts,
    ListingNotice,
    RectificationOrder,
    ReinspectionOpinion,
    Verification,
)
from ..services.documents import KINDS, Issued
from ..services.vocabulary import LEVELS, SOURCES
from .pdf_text import paragraph, style

PENALTY_KINDS = {"warning": "警告", "fine": "罚款", "suspension": "责令停产停业整顿",
                 "closure_recommendation": "提请关闭", "judicial_transfer": "移送司法机关"}
PENALTY_TARGETS = {"unit": "单位", "principal": "主要负责人"}
QR_SIZE = 28 * mm
WIDTH = 174 * mm  # A4 less 18 mm margins


def _day(value: date | datetime | str | None) -> str:
    """A date as printed: 2023年8月10日 (an instant in Asia/Shanghai); empty when unknown."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    else:
        day = value.astimezone(SHANGHAI).date() if isinstance(value, datetime) else value
    return f"{day.year}年{day.month}月{day.day}日"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _qr(url: str) -> Drawing:
    widget = QrCodeWidget(url)
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (right - left), 0, 0, QR_SIZE / (top - bottom), 0, 0])
    drawing.add(widget)
    return drawing


def _grid(rows: Sequence[Sequence[str]], widths: Sequence[float], header: bool = False) -> Table:
    """A bordered table of literal text (each cell a wrapped paragraph)."""
    cell = style(9.5)
    table = Table([[paragraph(_text(value), cell) for value in row] for row in rows],
                  colWidths=[w * mm for w in widths], repeatRows=1 if header else 0)
    commands: list[tuple[Any, ...]] = [("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                                       ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")))
    table.setStyle(TableStyle(commands))
    return table


def _facts(pairs: Sequence[tuple[str, Any]]) -> Table:
    """Label / value rows (the form of a slip)."""
    return _grid([(label, _text(value)) for label, value in pairs], [38, 136])


def _build(out: IO[bytes], issued: Issued, url: str, addressee: str | None, body: list[Flowable]) -> None:
    """The shared layout around `body`: unit, title, serial, addressee; sign-off, date, QR and link."""
    title = KINDS[issued.kind].title
    story: list[Flowable] = [
        paragraph(issued.issuer_name, style(15, alignment=TA_CENTER)), Spacer(1, 2 * mm),
        paragraph(title, style(20, alignment=TA_CENTER)), Spacer(1, 2 * mm),
        paragraph(issued.serial, style(11, alignment=TA_CENTER)), Spacer(1, 6 * mm)]
    if addressee is not None:
        story += [paragraph(f"{addressee}：", style(12)), Spacer(1, 2 * mm)]
    story += body
    story += [Spacer(1, 8 * mm), paragraph(issued.issuer_name, style(12, alignment=TA_RIGHT)),
              paragraph(_day(issued.issued_at), style(12, alignment=TA_RIGHT)), Spacer(1, 6 * mm),
              Table([[_qr(url), paragraph(f"扫描二维码或访问以下地址查看记录：{url}", style(9))]],
                    colWidths=[QR_SIZE + 4 * mm, WIDTH - QR_SIZE - 4 * mm],
                    style=[("VALIGN", (0, 0), (-1, -1), "MIDDLE")])]
    SimpleDocTemplate(out, pagesize=A4, title=f"{title} {issued.serial}", leftMargin=18 * mm, rightMargin=18 * mm,
                      topMargin=18 * mm, bottomMargin=18 * mm).build(story)


def _hazard_pairs(hazard: HazardFacts) -> list[tuple[str, Any]]:
    return [("隐患编号", hazard.code), ("隐患名称", hazard.title), ("隐患等级", LEVELS.get(hazard.level, hazard.level)),
            ("隐患来源", SOURCES.get(hazard.source, hazard.source)), ("隐患部位", hazard.location),
            ("发现日期", _day(hazard.found_on)), ("隐患描述", hazard.description)]


def _verification_pairs(verification: Verification, unit_label: str) -> list[tuple[str, Any]]:
    pairs = [(unit_label, verification.unit), ("结论", "通过" if verification.passed else "不通过，重新整改"),
             ("意见", verification.opinion)]
    if verification.new_deadline:
        pairs.append(("重新整改期限", _day(verification.new_deadline)))
    return [*pairs, ("签名", verification.signature), ("日期", _day(verification.verified_at))]


def rectification_order(content: RectificationOrder, issued: Issued, url: str, out: IO[bytes]) -> None:
    """责令限期整改指令书: the hazards an inspection found, each with its deadline, and the penalties' basis."""
    body, text = style(12, leading=20), style(11)
    story: list[Flowable] = [paragraph(
        f"{_day(content.inspected_on)}，本单位{content.team}对你单位进行了执法检查，"
        f"检查情况：{content.findings}", body),
        Spacer(1, 2 * mm),
        paragraph("发现你单位存在下列事故隐患，现责令你单位在下列期限前整改完毕，并将整改情况书面报告本单位。"
                  "整改期间，应当采取有效的安全防范措施，防止事故发生。", body), Spacer(1, 3 * mm)]
    rows = [("序号", "隐患编号", "隐患名称及部位", "等级", "整改期限")]
    rows += [(str(n), h.code, f"{h.title}（{h.location}）", LEVELS.get(h.level, h.level),
              _day(h.deadline) or "按治理方案确定") for n, h in enumerate(content.hazards, 1)]
    story.append(_grid(rows, [12, 34, 68, 28, 32], header=True) if content.hazards
                 else paragraph("本次检查未发现事故隐患。", text))
    if content.penalties:
        story += [Spacer(1, 4 * mm), paragraph("对检查中发现的违法行为，依据下列规定予以处理：", body),
                  Spacer(1, 2 * mm),
                  _grid([("案号", "对象", "处理", "法律依据"), *[
                      (p.case_number, f"{PENALTY_TARGETS.get(p.target, p.target)} {p.target_name}",
                       PENALTY_KINDS.get(p.kind, p.kind) + (f" {p.amount:g} 元" if p.amount is not None else ""),
                       p.legal_basis) for p in content.penalties]], [36, 34, 34, 70], header=True)]
    story += [Spacer(1, 4 * mm), paragraph("逾期未整改或者整改不到位的，本单位将依法处理。", body)]
    _build(out, issued, url, content.enterprise, story)


def reinspection_opinion(content: ReinspectionOpinion, issued: Issued, url: str, out: IO[bytes]) -> None:
    """整改复查意见书: the department's verification of a hazard's rectification."""
    hazard, verification = content.hazard, content.verification
    story: list[Flowable] = [paragraph(
        f"本单位于{_day(verification.verified_at)}对你单位事故隐患（{hazard.code} {hazard.title}）"
        "的整改情况进行了复查，复查意见如下：", style(12, leading=20)), Spacer(1, 3 * mm)]
    pairs = _hazard_pairs(hazard)
    if content.rectification is not None:
        done = content.rectification
        pairs += [("整改完成情况", done.result), ("整改完成日期", _day(done.rectified_on))]
    story.append(_facts(pairs + _verification_pairs(verification, "复查单位")))
    if not verification.passed:
        story += [Spacer(1, 3 * mm),
                  paragraph("请你单位按复查意见重新整改，并在重新整改期限前报告整改情况。", style(12))]
    _build(out, issued, url, content.enterprise, story)


def closeout_slip(content: CloseoutSlip, issued: Issued, url: str, out: IO[bytes]) -> None:
    """隐患验收销号单: the hazard, its plan (五落实), rectification, verification and close."""
    plan, done = content.plan, content.rectification
    pairs: list[tuple[str, Any]] = [("企业", content.enterprise), *_hazard_pairs(content.hazard),
                                    ("整改责任人", plan.responsible_person), ("整改措施", plan.measures),
                                    ("整改资金（万元）", plan.funds), ("整改时限", _day(plan.deadline)),
                                    ("应急预案及防范措施", plan.emergency_plan)]
    if done is not None:
        pairs += [("整改完成情况", done.result), ("整改完成日期", _day(done.rectified_on)),
                  ("实际投入资金（万元）", done.cost)]
    pairs += [*_verification_pairs(content.verification, "验收单位"), ("销号日期", _day(content.closed_at))]
    _build(out, issued, url, None, [_facts(pairs)])


def listing_notice(content: ListingNotice, issued: Issued, url: str, out: IO[bytes]) -> None:
    """挂牌督办通知书: a major hazard listed for supervision, its supervising unit, deadline and production."""
    hazard = content.hazard
    production = ("督办期间须停产停业整改，经复查合格并批准后方可恢复生产。" if content.stop_production
                  else "督办期间不要求停产，但须落实安全防范措施，确保安全。")
    story: list[Flowable] = [paragraph(
        f"经研究，决定对你单位存在的重大事故隐患（{hazard.code} {hazard.title}）实行挂牌督办。"
        f"督办单位：{content.supervising_unit}；整改期限：{_day(content.deadline) or '另行通知'}。{production}"
        "请你单位落实整改责任人、措施、资金、时限和应急预案，按期整改完毕，并向督办单位报告整改情况。",
        style(12, leading=20)), Spacer(1, 3 * mm),
        _facts([*_hazard_pairs(hazard), ("督办单位", content.supervising_unit),
                ("整改期限", _day(content.deadline)), ("是否停产整改", "是" if content.stop_production else "否"),
                ("督办意见", content.opinion), ("决定日期", _day(content.listed_at))])]
    _build(out, issued, url, content.enterprise, story)


def render(content: Content, issued: Issued, url: str, out: IO[bytes]) -> None:
    """Write the document of `content` (its kind follows from its type) to `out`."""
    if isinstance(content, RectificationOrder):
        rectification_order(content, issued, url, out)
    elif isinstance(content, ReinspectionOpinion):
        reinspection_opinion(content, issued, url, out)
    elif isinstance(content, CloseoutSlip):
        closeout_slip(content, issued, url, out)
    else:
        listing_notice(content, issued, url, out)
