"""datetime: today's date and time in a time zone, the days between two dates, a date plus or minus
days, weeks or months, and a date's weekday — the arithmetic models get wrong."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def _zone(name: str | None) -> dt.tzinfo:
    if not name:
        return dt.datetime.now().astimezone().tzinfo or dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown time zone '{name}' (use an IANA name such as Asia/Shanghai or UTC)") from None


def _date(value: Any, what: str) -> dt.date:
    text = str(value or "").strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ToolError(f"{what} must be a date as YYYY-MM-DD (got '{text}')") from None


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _described(day: dt.date) -> str:
    return f"{day.isoformat()} ({WEEKDAYS[day.weekday()]}, {WEEKDAYS_ZH[day.weekday()]})"


class DateTimeTool:
    spec = ToolSpec(
        name="datetime",
        description="Dates and times: 'now' gives the current date, time and weekday (in a time zone); 'diff' "
        "the days between date and date2; 'add' a date plus days, weeks or months (negative to go back); "
        "'weekday' the day of the week of a date. Dates are YYYY-MM-DD.",
        parameters={"type": "object", "properties": {
            "operation": {"type": "string", "enum": ["now", "diff", "add", "weekday"]},
            "timezone": {"type": "string", "description": "IANA time zone for 'now', e.g. Asia/Shanghai; "
                         "default: the server's"},
            "date": {"type": "string", "description": "YYYY-MM-DD (diff, add, weekday)"},
            "date2": {"type": "string", "description": "YYYY-MM-DD (diff: the days from date to date2)"},
            "days": {"type": "integer"}, "weeks": {"type": "integer"}, "months": {"type": "integer"}},
            "required": ["operation"], "additionalProperties": False},
        timeout_s=5.0,
    )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        op = arguments.get("operation")
        if op == "now":
            now = dt.datetime.now(_zone(arguments.get("timezone")))
            text = f"now: {now.isoformat(timespec='seconds')} ({WEEKDAYS[now.weekday()]}, {now.tzname()})"
            return ToolResult(text=text, summary=text, data={"now": now.isoformat(timespec="seconds")})
        if op == "diff":
            a, b = _date(arguments.get("date"), "date"), _date(arguments.get("date2"), "date2")
            days = (b - a).days
            text = f"from {a.isoformat()} to {b.isoformat()}: {days} days ({days / 7:.4g} weeks)"
            return ToolResult(text=text, summary=f"{days} days", data={"days": days})
        if op == "add":
            day = _date(arguments.get("date"), "date")
            try:
                months, weeks, days = (int(arguments.get(k) or 0) for k in ("months", "weeks", "days"))
                result = add_months(day, months) + dt.timedelta(weeks=weeks, days=days)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ToolError(f"cannot add to {day.isoformat()}: {exc}") from None
            text = f"{day.isoformat()} + {months} months {weeks} weeks {days} days = {_described(result)}"
            return ToolResult(text=text, summary=result.isoformat(), data={"date": result.isoformat()})
        if op == "weekday":
            day = _date(arguments.get("date"), "date")
            return ToolResult(text=_described(day), summary=WEEKDAYS[day.weekday()],
                              data={"weekday": WEEKDAYS[day.weekday()]})
        raise ToolError(f"unknown operation '{op}'; operations: now, diff, add, weekday")


def datetime_tool(context: ToolContext) -> DateTimeTool:
    return DateTimeTool()
