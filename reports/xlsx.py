"""XLSX output through openpyxl: one sheet per report table, codes and plain numbers as in the
CSV files (so formulas work on them), a bold frozen header row and sensible column widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

MAX_WIDTH = 40


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[dict[str, Any]]]]) -> Path:
    """Write ``{sheet name: (header, rows)}`` as one workbook (sheet names up to 31 characters)."""
    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    for name, (header, rows) in sheets.items():
        sheet = book.create_sheet(title=name[:31])
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_cell(row.get(key)) for key in header])
            for cell in sheet[sheet.max_row]:
                if cell.data_type == "f":  # text from a CRM that starts with "=" stays text, never a formula
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
        for index, key in enumerate(header, start=1):
            longest = max([len(key), *(len(str(row.get(key) or "")) for row in rows)])
            sheet.column_dimensions[get_column_letter(index)].width = min(longest + 2, MAX_WIDTH)
    book.save(path)
    return path


def _cell(value: Any) -> Any:
    """Numbers and text as they are; anything else (lists, mappings) as its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
