"""Results out as files, as officers hand them on: a workbook (a summary sheet, one sheet per
agency, photos embedded), CSV for Excel, JSON Lines, and the household photos as a zip.

Modules: ``handlers`` (the routes, streaming), ``workbook`` (the .xlsx), ``layout`` (each
agency's columns and the summary's words), ``streams`` (CSV, JSON Lines, the photo zip),
``cells`` (text never taken for a formula, column widths, one-sheet reports).
"""

from __future__ import annotations

from gateway.http.exports.cells import XLSX, write_text_sheet
from gateway.http.exports.handlers import export_results, results_spreadsheet
from gateway.http.exports.layout import summarise
from gateway.http.exports.streams import without_photo_data
from gateway.http.exports.workbook import ResultsWorkbook, write_results

__all__ = [
    "XLSX",
    "ResultsWorkbook",
    "export_results",
    "results_spreadsheet",
    "summarise",
    "without_photo_data",
    "write_results",
    "write_text_sheet",
]
