"""Pages of every list: ``limit`` (default 100, at most 1000) and ``offset``, in a stable order.

The answer's headers say where the list stands: ``X-Total-Count`` (rows in the whole list) and,
when there is more, a ``Link`` header with ``rel="next"`` (RFC 8288).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

DEFAULT_PAGE, MAX_PAGE = 100, 1000


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int
    request: Request | None
    response: Response

    def of(self, session: Session, query: Select) -> list[Any]:
        """The page of ``query`` (already ordered), with the headers set."""
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = list(session.scalars(query.limit(self.limit).offset(self.offset)))
        self.response.headers["X-Total-Count"] = str(total)
        if self.request is not None and self.offset + self.limit < total:
            url = self.request.url.include_query_params(offset=self.offset + self.limit)
            self.response.headers["Link"] = f'<{url}>; rel="next"'
        return rows


def page(
    request: Request,
    response: Response,
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_PAGE, description=f"Rows per page (default {DEFAULT_PAGE})."),
    ] = DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="Rows to skip.")] = 0,
) -> Page:
    return Page(limit, offset, request, response)


PageDep = Annotated[Page, Depends(page)]


def first_page(limit: int = MAX_PAGE) -> Page:
    """The first ``limit`` rows, for a caller other than the API (the pages)."""
    return Page(limit, 0, None, Response())
