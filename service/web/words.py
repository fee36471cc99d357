"""Words the pages show from data (roles, statuses): listed here so that the message extractor
finds them (``N_`` marks a message without translating it)."""

from __future__ import annotations

from allocator.spreadsheet import dutch_header


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    return message


WORDS = [
    # roles
    N_("coordinator"), N_("corporation"), N_("planner"), N_("admin"),
    # clients
    N_("ready"), N_("proposed"), N_("housed"), N_("withdrawn"),
    # vacancies
    N_("open"), N_("let"),
    # offers
    N_("accepted"), N_("refused"), N_("expired"),
    # runs
    N_("queued"), N_("running"), N_("done"), N_("failed"), N_("cancelled"), N_("interrupted"),
    # income brackets
    N_("below_income_limit"), N_("above_income_limit"),
]  # fmt: skip

TABLES = [
    N_("vacancies"),
    N_("municipalities"),
    N_("corporations"),
    N_("complexes"),
    N_("units"),
    N_("clients"),
    N_("pinned"),
    N_("neighbourhoods"),
    N_("support_providers"),
    N_("acceptance"),
    N_("policy"),
]

#: The audit trail's words. An event's action is "<what>.<what happened>" (``service.audit``):
#: both halves are shown in words, as are the keys of its details that are not a table's column
#: (those take the Dutch column names of ``allocator.spreadsheet``).
AUDIT = [
    # what
    N_("client"), N_("offer"), N_("run"), N_("vacancy"), N_("municipality"), N_("complex"),
    N_("api_key"), N_("region"), N_("corporation"), N_("neighbourhood"), N_("support_provider"),
    N_("scenario_run"), N_("quota"), N_("policy"),
    # what happened (besides the statuses above)
    N_("changed"), N_("erased"), N_("registered"), N_("created"), N_("set"), N_("loaded"),
    N_("requested"), N_("submitted"), N_("started"), N_("revoked"),
    # details
    N_("previous"), N_("reason"), N_("fields"), N_("year"), N_("client_id"), N_("unit_id"),
    N_("run_id"), N_("offer_id"), N_("region_id"), N_("input_hash"), N_("seeds"), N_("size"),
    N_("worker"), N_("role"), N_("name"), N_("places"), N_("clients"), N_("units"),
    N_("corporation_id"),
]  # fmt: skip

#: The table whose Dutch column names name an event's details, by what the event is about.
_DETAIL_TABLES = {
    "client": "clients",
    "vacancy": "units",
    "complex": "complexes",
    "municipality": "municipalities",
    "corporation": "corporations",
    "neighbourhood": "neighbourhoods",
    "support_provider": "support_providers",
    "policy": "policy",
}


class AuditWords:
    """An audit event in the page's language; a word the catalogue lacks is shown as stored."""

    def __init__(self, t):
        self.t = t

    def action(self, action: str) -> str:
        what, _, happened = action.partition(".")
        return self.t.gettext(
            "%(what)s: %(happened)s", what=self.t.gettext(what), happened=self.t.gettext(happened)
        )

    def key(self, entity: str, key: str) -> str:
        said = self.t.gettext(key)
        if said == key and self.t.locale == "nl" and entity in _DETAIL_TABLES:
            return dutch_header(_DETAIL_TABLES[entity], key)
        return said

    def value(self, key: str, value) -> str:
        # a previous status is a status word; other values are data, shown as stored
        return self.t.gettext(value) if key == "previous" and isinstance(value, str) else value
