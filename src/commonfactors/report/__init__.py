"""The main job: session data in, one self-contained HTML report out."""

from .run import FIGURE_FORMATS, REPORT_FILE, run_report, write_report

__all__ = ["run_report", "write_report", "REPORT_FILE", "FIGURE_FORMATS"]
