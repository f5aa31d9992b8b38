"""Reading back the tables a reader sees: the cells of a Markdown or HTML table."""

from __future__ import annotations

from html.parser import HTMLParser


def markdown_rows(text: str) -> list[list[str]]:
    """The rows (header first) of the Markdown table in ``text``, each a list of stripped cells."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|-")]


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_rows(text: str) -> list[list[str]]:
    """The rows (header first) of the HTML tables in ``text``, each a list of cell texts."""
    parser = _Cells()
    parser.feed(text)
    return parser.rows
