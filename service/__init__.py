"""The allocation service: the region's state, allocation runs, offers and the audit trail over
HTTP. Built on the optimisation core (``allocator``); the core never imports this package."""

# Region scoping of every request's session: listeners registered on import (``scope.py``).
from service import scope as _scope  # noqa: E402, F401
