"""docs/production.md stays whole: every setting is in its table, and every page it links to exists."""

from __future__ import annotations

import re
from pathlib import Path

from sump.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDE = (DOCS / "production.md").read_text()


def test_every_setting_has_a_row_in_the_settings_table() -> None:
    table = GUIDE.split("<!-- settings:begin -->")[1].split("<!-- settings:end -->")[0]
    rows = set(re.findall(r"^\| `(SUMP_[A-Z0-9_]+)` \|", table, re.MULTILINE))
    assert rows == {f"SUMP_{name.upper()}" for name in Settings.model_fields}


def test_every_linked_page_exists() -> None:
    links = re.findall(r"\]\(([^)#:]+\.md)\)", GUIDE)
    assert links
    assert [link for link in links if not (DOCS / link).is_file()] == []
