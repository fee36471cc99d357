"""Structured input errors: every problem names its table, its row and its field.

A person fixing a spreadsheet needs to know where to look, so errors are data (``InputIssue``)
rather than bare strings, and one ``InstanceError`` carries all of them at once: fixing one
error per run would be a slow way to clean a file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputIssue:
    """One problem in the input.

    ``row`` is the row's id where it has one (``"u17"``), otherwise its position (``"#3"``, counted
    from 0 in JSON and as the spreadsheet line number in CSV/Excel input).
    """

    table: str
    row: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.table
        if self.row is not None:
            where += f"[{self.row}]"
        if self.field:
            where += f".{self.field}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, str | None]:
        return {"table": self.table, "row": self.row, "field": self.field, "message": self.message}


class InstanceError(Exception):
    """The input cannot be used; ``issues`` lists every problem found.

    Deliberately not a ``ValueError``: raised inside a pydantic validator it passes through
    unchanged instead of being flattened into pydantic's own error format.
    """

    def __init__(self, issues: list[InputIssue]):
        self.issues = list(issues)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        head = f"{len(self.issues)} problem(s) in the input:"
        return "\n".join([head, *(f"  - {issue}" for issue in self.issues)])
