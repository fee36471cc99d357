"""The allocation service: the region's state, allocation runs, offers and the audit trail over
HTTP. Built on the optimisation core (``allocator``); the core never imports this package."""
