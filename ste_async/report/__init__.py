"""``ste-async report``: what an exploration run holds, computed from its store at any time.

:func:`build_report` reads the run (finished episodes only, streaming through its shards) into
a :class:`Report`; :func:`render_text`, :func:`render_short` and :func:`render_html` show it.
"""

from .build import build_report
from .page import render_html
from .schema import REPORT_SCHEMA, Report
from .text import render_short, render_text

__all__ = ("REPORT_SCHEMA", "Report", "build_report", "render_html", "render_short",
           "render_text")
