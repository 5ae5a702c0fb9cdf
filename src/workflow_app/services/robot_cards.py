"""What a group robot is sent: a message card with a link for WeCom and DingTalk robots, markdown otherwise.

Which robot a webhook is, is read from its address: WeCom's robots live at
`https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`, DingTalk's at
`https://oapi.dingtalk.com/robot/send?access_token=…`; a robot reached through a proxy of one's own keeps
its path, so the path decides as well as the host. Any other address gets the markdown message both
robots (and most relays) accept.

A card needs an address to open: the notice's hazard under WORKFLOW_APP_BASE_URL. Without a base URL,
or for a notice about no hazard, the message is markdown.

What users typed (a hazard's title, an enterprise's name) is hostile: markdown gets the characters
markdown acts on replaced by their full-width forms (channels.markdown_text), card fields are plain
text on one line, and every field is cut to the length its provider allows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

WECOM_HOST, WECOM_PATH = "qyapi.weixin.qq.com", "/cgi-bin/webhook/send"
DINGTALK_HOST, DINGTALK_PATH = "oapi.dingtalk.com", "/robot/send"
MARKDOWN_BYTES = 4096
"""WeCom: a markdown message's content is at most 4096 bytes of UTF-8 (DingTalk allows more)."""
WECOM_TITLE, WECOM_DESC, WECOM_SUBTITLE = 26, 30, 112
"""WeCom text_notice card: main_title.title ≤ 26 characters, main_title.desc ≤ 30, sub_title_text ≤ 112."""
WECOM_KEYNAME, WECOM_VALUE, WECOM_ROWS = 5, 26, 6
"""WeCom text_notice card: horizontal_content_list of ≤ 6 rows, keyname ≤ 5 characters, value ≤ 26."""
DINGTALK_TITLE = 64
"""DingTalk actionCard: the title shown in the conversation list, kept short."""
OPEN_BUTTON = "查看详情"


def robot_kind(url: str) -> str:
    """"wecom", "dingtalk" or "markdown" for a webhook address (by host, else by path)."""
    parts = urlsplit(url)
    host, path = (parts.hostname or "").lower(), parts.path.rstrip("/")
    if host == WECOM_HOST or path.endswith(WECOM_PATH):
        return "wecom"
    if host == DINGTALK_HOST or path.endswith(DINGTALK_PATH):
        return "dingtalk"
    return "markdown"


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def cut_bytes(text: str, limit: int) -> str:
    """`text` in at most `limit` bytes of UTF-8, cut on a character boundary, an ellipsis marking a cut."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len("…".encode())
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore") + "…"


def markdown_message(subject_md: str, body_md: str) -> dict[str, Any]:
    """The markdown message both robots accept (WeCom reads `content`, DingTalk `title` and `text`);
    the arguments are escaped already."""
    text = cut_bytes(f"### {subject_md}\n\n" + body_md.replace("\n", "\n\n"), MARKDOWN_BYTES)
    return {"msgtype": "markdown", "markdown": {"title": cut(subject_md, DINGTALK_TITLE), "content": text,
                                                "text": text}}


def wecom_card(subject: str, rows: list[tuple[str, str]], url: str) -> dict[str, Any]:
    """A WeCom robot's text_notice template card: the subject as title (and, when longer, in full as the
    sub-title), a few key-value rows, and the whole card opening `url`. Arguments are one-line plain text."""
    card: dict[str, Any] = {
        "card_type": "text_notice",
        "source": {"desc": "隐患闭环"},
        "main_title": {"title": cut(subject, WECOM_TITLE)},
        "horizontal_content_list": [{"keyname": cut(key, WECOM_KEYNAME), "value": cut(value, WECOM_VALUE)}
                                    for key, value in rows[:WECOM_ROWS] if value],
        "jump_list": [{"type": 1, "url": url, "title": OPEN_BUTTON}],
        "card_action": {"type": 1, "url": url},
    }
    if len(subject) > WECOM_TITLE:
        card["sub_title_text"] = cut(subject, WECOM_SUBTITLE)
    return {"msgtype": "template_card", "template_card": card}


def dingtalk_card(subject_md: str, body_md: str, url: str) -> dict[str, Any]:
    """A DingTalk robot's actionCard with one button (singleTitle / singleURL) opening `url`; the
    arguments are escaped markdown already."""
    text = cut_bytes(f"### {subject_md}\n\n" + body_md.replace("\n", "\n\n"), MARKDOWN_BYTES)
    return {"msgtype": "actionCard", "actionCard": {"title": cut(subject_md, DINGTALK_TITLE), "text": text,
                                                    "singleTitle": OPEN_BUTTON, "singleURL": url}}
