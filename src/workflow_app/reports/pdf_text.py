"""Text for the PDF documents: the CJK font, and ReportLab paragraphs that never read what they show as markup.

A ReportLab Paragraph parses its text as markup: `<img src=...>` would embed a file of the
server's disk, `<a href=...>` plant a link, and an unbalanced tag fail the whole document.
Every paragraph of our PDFs is built here from plain text, with & < > escaped, so a title
or a name typed by a user shows exactly as typed. Our own documents use no markup at all.

The font comes from WORKFLOW_APP_CJK_FONT or Debian's fonts-wqy-zenhei / fonts-noto-cjk;
without one a PDF is refused with a message saying what to install.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph

from ..services.errors import InvalidInputError

FONT = "CJK"
FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def register_font() -> None:
    """Register the CJK font once per process (every PDF embeds it)."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    chosen = os.environ.get("WORKFLOW_APP_CJK_FONT")
    path = Path(chosen) if chosen else next((Path(p) for p in FONT_CANDIDATES if Path(p).exists()), None)
    if path is None or not path.exists():
        raise InvalidInputError("no Chinese font for the PDF: apt-get install fonts-wqy-zenhei, or set "
                                "WORKFLOW_APP_CJK_FONT to a .ttf/.ttc file")
    pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))


def style(size: float, leading: float | None = None, alignment: int = 0) -> ParagraphStyle:
    """A paragraph style in the CJK font, wrapping between any two Chinese characters (registers the font: a
    Paragraph reads its font when it is made)."""
    register_font()
    return ParagraphStyle(f"cjk{size}-{alignment}", fontName=FONT, fontSize=size, leading=leading or size * 1.5,
                          wordWrap="CJK", alignment=alignment)


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph showing `text` literally, whatever characters it holds."""
    return Paragraph(escape(text), style)
