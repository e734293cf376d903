"""CSV for people who open it in Excel: UTF-8 with a BOM, streamed row by row, and every
cell a spreadsheet would run as a formula (= + - @, or a tab/CR before one, as in
`=HYPERLINK(...)` typed into a name) written as text (CSV injection)."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise("" if cell is None else str(cell)) for cell in row])


def csv_response(header: list[str], rows: Iterable[Iterable[object]],
                 filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
