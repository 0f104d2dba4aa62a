"""The CJK font the platform's PDF documents embed (subset): the evaluation report, the award notices and
the opening record read the same on any machine for the 15 years they are archived (R-R2)."""

from __future__ import annotations

import os

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian fonts-wqy-microhei
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian fonts-wqy-zenhei
)


class ReportFontMissing(RuntimeError):
    """No CJK font to embed: install Debian's fonts-wqy-microhei or set SUNBID_REPORT_FONT."""


def find_font(explicit: str | None = None) -> str:
    for path in (explicit, os.environ.get("SUNBID_REPORT_FONT"), *FONT_CANDIDATES):
        if path and os.path.exists(path):
            return path
    raise ReportFontMissing("no CJK font found: install fonts-wqy-microhei or set SUNBID_REPORT_FONT")
