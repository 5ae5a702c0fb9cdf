"""Text for the PDF documents: ReportLab paragraphs that never read what they show as markup.

A ReportLab Paragraph parses its text as markup: `<img src=...>` would embed a file of the
server's disk, `<a href=...>` plant a link, and an unbalanced tag fail the whole document.
Every paragraph of our PDFs is built here from plain text, with & < > escaped, so a title
or a name typed by a user shows exactly as typed. Our own documents use no markup at all.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph showing `text` literally, whatever characters it holds."""
    return Paragraph(escape(text), style)
