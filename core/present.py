"""How pages show values: times, money, labels and errors (ARCHITECTURE.md, "Presentation").

In a template (the filters are registered for every template):

- a time: ``{{ tender.bid_deadline|when }}`` -> "2027年2月4日 01:00" / "4 Feb 2027, 01:00", in Beijing
  time; styles: ``|when("seconds")``, ``|when("date")``, ``|when("time")``, ``|when("short")`` (no year).
  Takes a datetime (naive ones are UTC), a date, or an RFC 3339 string from a JSON payload. The layout
  says once per page that times are Beijing time; do not repeat it next to each time.
- money: ``{{ lot.deposit_fen|money }}`` (core.money).
- a status, role, decision, code: ``{{ bid.status|label("bids.status") }}`` (core.labels).
- a yes/no: ``{{ flag|yesno }}``; how long until a deadline: ``{{ due|left }}`` ("in 3 days").
- an error: ``{{ error|error_text }}``: the sentence of a DomainError, naming the field (core.labels
  kind ``field``) when the error has one, never its code; ``problems`` (``details.problems`` of a
  validation error) through ``{{ p|problem_text }}``.

In Python the same functions: ``when(value, style)``, ``format_money``, ``label``, ``error_text``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_date, format_datetime, format_timedelta
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core import clock
from core.clock import SHANGHAI
from core.labels import has, label, register
from core.money import format_money

PATTERNS = {
    "zh": {
        "datetime": "y年M月d日 HH:mm",
        "seconds": "y年M月d日 HH:mm:ss",
        "date": "y年M月d日",
        "time": "HH:mm",
        "short": "M月d日 HH:mm",
    },
    "en": {
        "datetime": "d MMM y, HH:mm",
        "seconds": "d MMM y, HH:mm:ss",
        "date": "d MMM y",
        "time": "HH:mm",
        "short": "d MMM, HH:mm",
    },
}


def _lang(locale: Any = None) -> str:
    return "en" if str(locale or get_locale() or "zh_CN").startswith("en") else "zh"


def _locale(lang: str) -> str:
    return "en" if lang == "en" else "zh_Hans_CN"


def when(value: Any, style: str = "datetime", locale: Any = None) -> str:
    """A moment as people in China read it, in the page's language ("" for none)."""
    if value is None or value == "":
        return ""
    lang = _lang(locale)
    pattern = PATTERNS[lang][style]
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return format_datetime(value.astimezone(SHANGHAI), pattern, locale=_locale(lang))
    if isinstance(value, date):
        return format_date(value, PATTERNS[lang]["date"], locale=_locale(lang))
    raise TypeError(f"not a time: {value!r}")


def time_left(value: datetime, now: datetime | None = None, locale: Any = None) -> str:
    """How long until ``value`` from the platform's now, roughly ("in 3 days" / "3天后"; "2 hours ago")."""
    lang = _lang(locale)
    delta = value - (now or clock.now())
    return format_timedelta(delta, add_direction=True, threshold=1.5, locale=_locale(lang))


def yesno(value: Any) -> str:
    return _("yes") if value else _("no")


def field_label(name: str) -> str:
    """A field's name as the form calls it; lists ("lots[2].deposit") name the item."""
    base, _sep, rest = str(name).partition("[")
    if has("field", name):
        return label("field", name)
    if rest:
        index, _close, tail = rest.partition("]")
        inner = tail.lstrip(".")
        item = label("field", base, default=base)
        return _("%(list)s no. %(n)s", list=item, n=index) + (" · " + field_label(inner) if inner else "")
    return label("field", name)


def error_text(error: Any) -> str:
    """The sentence for a DomainError (anything with ``message``, ``code``, ``details``), naming the field."""
    message = getattr(error, "message", None)
    code = getattr(error, "code", None)
    details = getattr(error, "details", None) or {}
    text = str(message) if message else label("error", code, default=_("The request could not be completed."))
    field = details.get("field")
    if field and has("field", str(field).partition("[")[0]):
        return _("%(field)s: %(message)s", field=field_label(field), message=text)
    return text


def problem_text(problem: dict[str, Any]) -> str:
    """One problem of a validation error (``{"field", "code", ...}``) as a sentence naming the field."""
    code = problem.get("code")
    words = problem.get("message") or label("error", code, default=_("This value is not accepted."))
    parts = [str(words)]
    if problem.get("max_fen") is not None:
        parts.append(_("at most %(amount)s", amount=format_money(problem["max_fen"])))
    if problem.get("earliest"):
        parts.append(_("at the earliest %(time)s", time=when(problem["earliest"])))
    if problem.get("latest"):
        parts.append(_("at the latest %(time)s", time=when(problem["latest"])))
    if problem.get("rule"):
        parts.append(str(problem["rule"]))
    text = _("; ").join(parts) if len(parts) > 1 else parts[0]
    if problem.get("field"):
        return _("%(field)s: %(message)s", field=field_label(problem["field"]), message=text)
    return text


def _localtime(value: Any, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """The filter's older name and its CLDR patterns, for templates written before ``when``."""
    if "HH" not in fmt:
        return when(value, "date")
    if "y" not in fmt:
        return when(value, "short" if "d" in fmt else "time")
    return when(value, "seconds" if "ss" in fmt else "datetime")


def init_app(app: Flask) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(_localtime, "localtime")
    app.add_template_filter(format_money, "money")
    app.add_template_filter(lambda value, kind: label(kind, value), "label")
    app.add_template_filter(yesno, "yesno")
    app.add_template_filter(time_left, "left")
    app.add_template_filter(error_text, "error_text")
    app.add_template_filter(problem_text, "problem_text")
    app.add_template_global(label, "label")


register(
    "error",
    {
        "bad_request": _l("The request could not be understood."),
        "invalid": _l("This value is not accepted."),
        "conflict": _l("This cannot be done in the current state."),
        "forbidden": _l("You may not do this."),
        "not_found": _l("Not found."),
        "unauthenticated": _l("Sign in first."),
        "rate_limited": _l("Too many attempts. Wait a moment and try again."),
    },
)
