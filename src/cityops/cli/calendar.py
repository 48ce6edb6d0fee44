"""``cityops calendar``: check deadline rules by hand (工作日 / 工作时, holidays, 调休)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import click

from cityops.cases.workcalendar import coverage
from cityops.cli.context import AppContext, handle_errors, pass_app
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import parse_limit


def _moment(text: str, field: str, app: AppContext) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.single(
            field, "datetime_format", "use ISO 8601, e.g. 2026-09-30T16:00+08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=app.settings.zone)


@click.group("calendar")
def calendar() -> None:
    """Working-day calendar: deadlines in 工作日/工作时, holidays and 调休."""


@calendar.command("due")
@click.option("--from", "start", required=True, help="Start, ISO 8601 (local time if no offset).")
@click.option(
    "--limit", required=True, help='"3 工作日", "5 工作时", "2 workdays", "4 working hours".'
)
@click.option("--hold", "holds", multiple=True, help="A hold START/END (ISO 8601); repeatable.")
@pass_app
@handle_errors
def due(app: AppContext, start: str, limit: str, holds: tuple[str, ...]) -> None:
    """Print the deadline of LIMIT counted in working time from START, as JSON."""
    begin = _moment(start, "--from", app)
    parsed = parse_limit(limit, field="--limit")
    intervals = []
    for i, text in enumerate(holds):
        first, sep, second = text.partition("/")
        if not sep:
            raise ValidationFailed.single(f"--hold[{i}]", "interval", "write START/END")
        intervals.append(
            (_moment(first, f"--hold[{i}]", app), _moment(second, f"--hold[{i}]", app))
        )
    work = app.services(require_migrated=False).calendar
    deadline = work.add(begin, parsed, intervals)
    local = deadline.astimezone(work.zone)
    missing = coverage(work, range(begin.year, local.year + 1))
    click.echo(
        json.dumps(
            {
                "from": begin.isoformat(),
                "limit": str(parsed),
                "working_time_hours": round(
                    (
                        work.day_length * parsed.amount
                        if parsed.unit == "days"
                        else timedelta(hours=parsed.amount)
                    ).total_seconds()
                    / 3600,
                    2,
                ),
                "due": local.isoformat(),
                "holds": [[a.isoformat(), b.isoformat()] for a, b in intervals],
                "years_without_holiday_data": missing,
            },
            ensure_ascii=False,
        )
    )


@calendar.command("days")
@click.argument("month", metavar="YYYY-MM")
@pass_app
@handle_errors
def days(app: AppContext, month: str) -> None:
    """List the days of a month: working day (班) or day off (休)."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValidationFailed.single("month", "month_format", "use YYYY-MM") from None
    work = app.services(require_migrated=False).calendar
    day = first
    while day.month == first.month:
        mark = "班" if work.is_workday(day) else "休"
        note = " 调休" if day in work.workdays else (" 节假日" if day in work.holidays else "")
        click.echo(f"{day.isoformat()} {day.strftime('%a')} {mark}{note}")
        day += timedelta(days=1)
    for year in coverage(work, [first.year]):
        click.echo(f"warning: no holiday data for {year}; plain weekdays are used", err=True)
