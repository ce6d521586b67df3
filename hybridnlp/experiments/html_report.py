"""``report.html``: the run's report as one self-contained page (the Markdown rendered by
markdown-it-py, the plots inline, a task's own HTML sections such as the explanation
highlights); text from the data is escaped, and the page runs no script."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from hybridnlp.utils.io import atomic_write_bytes

__all__ = ["write_html_report"]

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;margin:0;
background:#fafafa}
main{max-width:960px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:1.6em;border-bottom:2px solid #2166ac;padding-bottom:4px}
h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:12px 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top}
th{background:#f0f4f8;text-align:left}
tr:nth-child(even) td{background:#fbfbfb}
img{max-width:100%;height:auto;display:block;margin:8px 0}
td.explained{line-height:1.9}
td.explained span{padding:1px 2px;border-radius:3px}
code{background:#f3f3f3;padding:0 3px}
"""
_IMAGE = re.compile(r'<img src="([A-Za-z0-9_.-]+\.png)"')


def _inline_images(body: str, run_dir: Path) -> str:
    """Each ``<img src="NAME.png">`` of a file in ``run_dir`` as a data URI (a plain file
    name only: nothing outside the run directory is read)."""
    def inline(match: re.Match) -> str:
        path = run_dir / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}"'
    return _IMAGE.sub(inline, body)


def _insert_sections(body: str, sections: list[tuple[str, str]]) -> str:
    """Each (heading, html): the html at the end of the section whose ``<h2>`` starts with
    that heading (at the end of the page when there is none)."""
    for heading, extra in sections:
        start = body.find(f"<h2>{html.escape(heading)}")
        if start < 0:
            body += extra
            continue
        end = body.find("<h2>", start + 4)
        body = body + extra if end < 0 else body[:end] + extra + body[end:]
    return body


def write_html_report(run_dir, title: str, lines: list[str],
                      sections: list[tuple[str, str]] = ()) -> Path:
    """Write ``run_dir/report.html`` from the Markdown ``lines`` of ``report.md``."""
    from markdown_it import MarkdownIt

    run_dir = Path(run_dir)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render("\n".join(lines))
    body = _insert_sections(_inline_images(body, run_dir), list(sections))
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>\n{body}</main></body></html>\n")
    path = run_dir / "report.html"
    atomic_write_bytes(path, page.encode("utf-8"))
    return path
