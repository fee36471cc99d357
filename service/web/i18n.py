"""Languages of the pages: Dutch by default, English selectable (a ``lang`` cookie).

Messages live in gettext catalogues (``locale/<lang>/LC_MESSAGES/messages.po``, compiled to
``.mo`` beside them; ``make messages`` extracts, updates and compiles). Dates are written as
``26 nov 2026`` and amounts as ``€ 650,43`` (Babel, per language).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations
from fastapi import Request

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locale"
TIMEZONE = ZoneInfo("Europe/Amsterdam")


@lru_cache
def translations(locale: str) -> Translations:
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


class Texts:
    """The translation and formatting functions of one language, as templates use them."""

    def __init__(self, locale: str):
        self.locale = locale
        self._catalogue = translations(locale)

    def gettext(self, message: str, **values: object) -> str:
        text = self._catalogue.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self._catalogue.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def date(self, value: dt.date | dt.datetime | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, dt.datetime):
            value = value.astimezone(TIMEZONE).date()
        return format_date(value, "d MMM y", locale=self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        return format_datetime(value.astimezone(TIMEZONE), "d MMM y HH:mm", locale=self.locale)

    def money(self, value: float | None) -> str:
        return "—" if value is None else format_currency(value, "EUR", locale=self.locale)

    def number(self, value: float | int | None) -> str:
        return "—" if value is None else format_decimal(value, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return "—" if value is None else format_percent(value, locale=self.locale)
