"""Markdown to one self-contained HTML page: tables rendered, images inlined as data URIs."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from markdown_it import MarkdownIt

from prefsmith.schemas.locations import TEMPLATES

TEMPLATE = TEMPLATES / "report" / "page.html"


def markdown_to_html(markdown: str, folder: Path, title: str = "prefsmith run report") -> str:
    """The page for `markdown`, whose relative image paths are files in `folder`."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)

    def inline(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^":]+\.png)"', inline, body)
    return TEMPLATE.read_text().replace("{{ title }}", title).replace("{{ body }}", body)
