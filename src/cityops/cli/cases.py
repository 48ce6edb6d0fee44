"""``cityops cases``: register, move, find, export and evaluate cases; matter rules; training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from cityops.cases.intake import IntakeRequest
from cityops.cases.queries import GROUPS, CaseFilter, Order, parse_moment
from cityops.cases.rules import read_rules_csv, rule_from_mapping, write_rules_csv
from cityops.cases.service import CommandRequest
from cityops.cases.workflow import Command, Status
from cityops.cli.context import AppContext, handle_errors, operator, pass_app


def _json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group()
def cases() -> None:
    """Cases (案件): intake, the loop, search, export, KPIs, rules and the classifier."""


@cases.command("create")
@click.option("--channel", required=True, help="hotline, web, app, patroller, sensor, …")
@click.option("--text", "description", required=True, help="The problem, in Chinese.")
@click.option("--lon", type=float)
@click.option("--lat", type=float)
@click.option("--component", "component_id", help="17-digit component id.")
@click.option("--address", help="Address text (resolved with the gazetteer).")
@click.option("--urgency", default="normal", show_default=True)
@click.option("--appeal-type", help="consult, help, complaint, report or suggestion.")
@click.option("--reporter-name")
@click.option("--reporter-phone")
@click.option("--ref", "external_ref", help="External reference (idempotent per channel).")
@click.option("--matter", "matter_code", help="Matter class (wins over suggestions).")
@pass_app
@handle_errors
def create(app: AppContext, /, **fields: Any) -> None:
    """Register a case and print it with the suggestions, duplicates and route."""
    services = app.services()
    principal = operator()
    result = services.intake.accept(principal, IntakeRequest(**fields))
    with services.store.unit_of_work(read_only=True) as uow:
        data = services.cases.view(principal, result.case, uow)
    _json(
        {
            "case": data,
            "created": result.created,
            "duplicates": [d.as_json() for d in result.duplicates],
            "auto_dispatched": result.auto_dispatched,
            "location_note": result.location_note,
        }
    )


@cases.command("show")
@click.argument("ref")
@pass_app
@handle_errors
def show(app: AppContext, ref: str) -> None:
    """Print a case (number or id) with its history."""
    _json(app.services().cases.get(operator(), ref))


@cases.command("act")
@click.argument("ref")
@click.argument("command", type=click.Choice([c.value for c in Command]))
@click.option("--comment", help="Reason or note.")
@click.option("--department", "department_code", help="dispatch: the department code.")
@click.option("--extension", help="request/approve_extension: e.g. '2 工作日'.")
@click.option("--satisfaction", type=int, help="evaluate: 1–5.")
@click.option("--matter", "matter_code", help="file: correct the matter class.")
@pass_app
@handle_errors
def act(app: AppContext, /, ref: str, command: str, **fields: Any) -> None:
    """Apply COMMAND to the case REF and print the result."""
    _json(app.services().cases.act(operator(), ref, CommandRequest(command=command, **fields)))


@cases.command("merge")
@click.argument("ref")
@click.option("--into", required=True, help="The surviving case.")
@click.option("--comment")
@pass_app
@handle_errors
def merge(app: AppContext, ref: str, into: str, comment: str | None) -> None:
    """Merge the duplicate REF into another case."""
    _json(app.services().cases.merge(operator(), ref, into, comment))


def _filter_options(func: Any) -> Any:
    options = [
        click.option("--text", help="Text in the description."),
        click.option("--matter", "matters", multiple=True, help="Matter class (repeatable)."),
        click.option(
            "--status",
            "statuses",
            multiple=True,
            type=click.Choice([s.value for s in Status]),
        ),
        click.option("--light", type=click.Choice(["green", "yellow", "red"])),
        click.option("--channel", "channels", multiple=True),
        click.option("--division", help="District, street, community or grid code."),
        click.option("--department", "departments", multiple=True),
        click.option("--from", "start", help="Accepted from (YYYY-MM-DD or ISO time)."),
        click.option("--to", "end", help="Accepted before."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filter(app: AppContext, fields: dict[str, Any], order: str = "newest") -> CaseFilter:
    zone = ZoneInfo(app.settings.timezone)
    return CaseFilter(
        text=fields.pop("text"),
        matter_codes=tuple(fields.pop("matters")),
        statuses=tuple(Status(s) for s in fields.pop("statuses")),
        light=fields.pop("light"),
        channels=tuple(fields.pop("channels")),
        division_code=fields.pop("division"),
        department_codes=tuple(fields.pop("departments")),
        accepted_from=parse_moment(fields.pop("start"), "from", zone),
        accepted_to=parse_moment(fields.pop("end"), "to", zone),
        order=Order(order),
    )


@cases.command("list")
@_filter_options
@click.option("--order", type=click.Choice([o.value for o in Order]), default="newest")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
@handle_errors
def list_cases(
    app: AppContext, /, order: str, limit: int, offset: int, as_json: bool, **fields: Any
) -> None:
    """List cases matching the filters."""
    result = app.services().case_lists.search(
        operator(), _filter(app, fields, order), limit=limit, offset=offset
    )
    if as_json:
        _json(result)
        return
    click.echo(f"{result['total']} cases")
    for item in result["items"]:
        light = item["deadline"]["light"] or "-"
        click.echo(
            f"{item['number']}  {item['status_label']:<4}  {light:<6}  "
            f"{item['matter']['code'] or '-':<5}  {item['department_code'] or '-':<6}  "
            f"{item['description'][:30]}"
        )


@cases.command("export")
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_app
@handle_errors
def export(app: AppContext, /, fmt: str, output: Path, **fields: Any) -> None:
    """Write matching cases to a CSV or Excel file."""
    content, _ = app.services().case_lists.export(operator(), _filter(app, fields), fmt)
    output.write_bytes(content)
    click.echo(f"wrote {output}")


@cases.command("kpis")
@click.option("--by", "group_by", type=click.Choice(GROUPS), default="department")
@click.option("--from", "start", help="Period start (YYYY-MM-DD or ISO time).")
@click.option("--to", "end", help="Period end (exclusive).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
@handle_errors
def kpis(app: AppContext, group_by: str, start: str | None, end: str | None, as_json: bool) -> None:
    """Print KPIs (考核) per group for cases accepted in the period."""
    zone = ZoneInfo(app.settings.timezone)
    result = app.services().case_lists.kpis(
        operator(),
        group_by=group_by,
        start=parse_moment(start, "from", zone),
        end=parse_moment(end, "to", zone),
    )
    if as_json:
        _json(result)
        return
    click.echo(
        f"{'group':<16}{'受理':>7}{'立案':>7}{'结案':>7}{'结案率':>8}{'按期结案率':>10}"
        f"{'返工率':>8}{'满意度':>7}{'结案中位工时':>12}  等级"
    )
    for group in result["groups"]:
        counts, rates = group["counts"], group["rates"]
        score = group["composite"]
        click.echo(
            f"{group['group'] or '(none)':<16}{counts['accepted']:>8}{counts['filed']:>9}"
            f"{counts['closed']:>9}{_pct(rates['closing_rate']):>11}"
            f"{_pct(rates['on_time_closing_rate']):>15}{_pct(rates['rework_rate']):>11}"
            f"{group['satisfaction'] if group['satisfaction'] is not None else '-':>10}"
            f"{group['working_hours']['median_close'] or '-':>18}  "
            f"{score['grade'] if score else '-'}"
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@cases.command("sweep")
@pass_app
@handle_errors
def sweep(app: AppContext) -> None:
    """Check deadlines now: announce yellow/red lights and escalations."""
    report = app.services().sweeper.sweep()
    _json(
        {
            "checked": report.checked,
            "yellow": report.yellow,
            "red": report.red,
            "escalated": report.escalated,
        }
    )


@cases.command("classify")
@click.argument("text")
@click.option("-k", type=click.IntRange(1, 10), default=3, show_default=True)
@pass_app
@handle_errors
def classify(app: AppContext, text: str, k: int) -> None:
    """Print the suggested matter classes for TEXT."""
    from cityops.catalog.reference import matter_classes

    names = matter_classes()
    for s in app.services().classification.suggest_for(operator(), text, k):
        name = names[s.code].name if s.code in names else "?"
        click.echo(f"{s.code}  {name}  {s.confidence:.3f}  ({s.source})")


@cases.command("train")
@click.option("--no-seed", is_flag=True, help="Train on closed cases only.")
@click.option(
    "--seed-per-class",
    type=click.IntRange(1, 1000),
    help="Texts per class from the seed corpus (default: as the shipped model).",
)
@pass_app
@handle_errors
def train(app: AppContext, no_seed: bool, seed_per_class: int | None) -> None:
    """Retrain the classifier on the city's closed cases (plus the seed corpus) and use it."""
    _json(
        app.services().classification.train(
            operator(), include_seed=not no_seed, seed_per_class=seed_per_class
        )
    )


@cases.group("rules")
def rules() -> None:
    """Matter rules: department, 立案/结案 conditions, time limits and keywords per class."""


@rules.command("list")
@click.option("--matter", help="Only this class.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (to edit and import again).")
@pass_app
@handle_errors
def list_rules(app: AppContext, matter: str | None, as_csv: bool) -> None:
    """Print the city's matter rules."""
    found = app.services().matter_rules.list_rules(operator(), matter)
    if as_csv:
        click.echo(write_rules_csv(found), nl=False)
        return
    for rule in found:
        click.echo(json.dumps(rule.as_json(), ensure_ascii=False))


@rules.command("set")
@click.argument("matter_code")
@click.option("--division", default="", help="Limit the rule to a division (default: city).")
@click.option("--department", "department_code")
@click.option("--filing", "filing_condition", help="立案条件")
@click.option("--closing", "closing_condition", help="结案条件")
@click.option("--limit", "limit_normal", help="Normal time limit, e.g. '3 工作日'.")
@click.option("--urgent-limit", "limit_urgent", help="Urgent time limit, e.g. '4 工作时'.")
@click.option("--keyword", "keywords", multiple=True, help="Keyword (repeatable).")
@pass_app
@handle_errors
def set_rule(app: AppContext, /, matter_code: str, division: str, **fields: Any) -> None:
    """Create or replace the rule of MATTER_CODE."""
    fields["keywords"] = list(fields["keywords"])
    rule = rule_from_mapping({**fields, "matter_code": matter_code, "division_code": division})
    saved = app.services().matter_rules.put(operator(), rule)
    click.echo(json.dumps(saved.as_json(), ensure_ascii=False))


@rules.command("delete")
@click.argument("matter_code")
@click.option("--division", default="")
@pass_app
@handle_errors
def delete_rule(app: AppContext, matter_code: str, division: str) -> None:
    """Delete the rule of MATTER_CODE."""
    app.services().matter_rules.delete(operator(), matter_code, division)
    click.echo(f"deleted {matter_code}")


@rules.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
@handle_errors
def import_rules(app: AppContext, path: Path) -> None:
    """Create or replace rules from a CSV file, all or nothing."""
    found = read_rules_csv(path.read_text(encoding="utf-8-sig"))
    saved = app.services().matter_rules.put_many(operator(), found)
    click.echo(f"saved {len(saved)} rules")
