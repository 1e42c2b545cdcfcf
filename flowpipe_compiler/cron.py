"""Cron schedules as Kubernetes' CronJob controller parses them.

Kubernetes uses robfig/cron's standard parser: five fields (minute, hour, day of month,
month, day of week), each a comma-separated list of ``*``, ``?`` (day fields only), values,
ranges ``a-b`` and steps ``/n``; month and weekday names (``JAN``, ``MON``) in any case;
and the macros below. ``TZ=``/``CRON_TZ=`` prefixes are refused by the API server since
1.27: the time zone belongs in ``cron.time_zone``.
"""

from __future__ import annotations

from dataclasses import dataclass

MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    question: bool = False

    def value(self, text: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.names.index(upper) + self.low
        if not text.isdigit():
            raise ValueError(f"{self.name}: {text!r} is not a number")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31, question=True),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 6, _DAYS, question=True),
)


def problem(schedule: str) -> str | None:
    """Why Kubernetes would refuse ``schedule``, or ``None`` when it is valid."""
    text = schedule.strip()
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        return "time zone prefixes are not allowed in the schedule; set cron.time_zone"
    if text.startswith("@"):
        return (
            None
            if text in MACROS
            else f"unknown macro {text!r} (use one of {', '.join(sorted(MACROS))})"
        )
    parts = text.split()
    if len(parts) != len(FIELDS):
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
    for field, part in zip(FIELDS, parts, strict=True):
        try:
            _check_field(field, part)
        except ValueError as exc:
            return str(exc)
    return None


def _check_field(field: _Field, text: str) -> None:
    for item in text.split(","):
        if not item:
            raise ValueError(f"{field.name}: empty list item in {text!r}")
        base, slash, step = item.partition("/")
        if slash and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"{field.name}: step {step!r} must be a positive number")
        if base == "*" or (base == "?" and field.question):
            continue
        if base == "?":
            raise ValueError(f"{field.name}: '?' is only allowed in the day fields")
        low_text, dash, high_text = base.partition("-")
        low = field.value(low_text)
        if dash:
            high = field.value(high_text)
            if high < low:
                raise ValueError(f"{field.name}: range {base!r} runs backwards")
