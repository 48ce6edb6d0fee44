"""Cases over HTTP: intake, read, commands, merge, photos, search, queues, exports and KPIs."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Query, Request, Response, UploadFile
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cityops.auth.model import Principal
from cityops.cases.intake import IntakeRequest, IntakeResult
from cityops.cases.queries import CaseFilter, Order, parse_moment
from cityops.cases.service import CommandRequest
from cityops.cases.workflow import Status
from cityops.kernel.errors import ValidationFailed
from cityops.web.security import Require, services_of

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
Reader = Annotated[Principal, Depends(Require("cases:read"))]
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
MAX_ID = 2**62


class CaseIn(BaseModel):
    """A new case. Give the place as lon/lat, a component id, or address text."""

    channel: str = Field(
        description="hotline, web, app, patroller, sensor, ai_detection, enterprise"
    )
    description: str = Field(description="What is wrong, in the reporter's words (Chinese).")
    appeal_type: str | None = Field(
        None, description="consult, help, complaint, report, suggestion"
    )
    urgency: str = Field("normal", description="normal (一般) or urgent (紧急)")
    lon: float | None = None
    lat: float | None = None
    component_id: str | None = Field(None, description="17-digit 管理部件标识码")
    address: str | None = Field(None, description="Address text, resolved with the gazetteer")
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_ref: str | None = Field(
        None, description="The sender's id; the same channel + reference never makes two cases"
    )
    matter_code: str | None = Field(None, description="The clerk's class (wins over suggestions)")


class CasePreviewIn(CaseIn):
    """A case the clerk is still typing: as for a new case, but the description may be missing."""

    description: str | None = Field(  # type: ignore[assignment]
        None, description="What is wrong so far; without it there are no suggestions."
    )


class CommandIn(BaseModel):
    """What a command may carry."""

    comment: str | None = Field(None, description="Reason or note (required by some commands)")
    attachments: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=50, description="Photo ids of this case"
    )
    satisfaction: int | None = Field(None, description="evaluate: 1–5")
    department_code: str | None = Field(None, description="dispatch: to whom")
    extension: str | None = Field(None, description="request/approve_extension: e.g. '2 工作日'")
    matter_code: str | None = Field(None, description="file: correct the class")


class MergeIn(BaseModel):
    """Merge this case into another."""

    into: str = Field(description="Number or id of the surviving case")
    comment: str | None = None


class ClassifyIn(BaseModel):
    """Text to classify."""

    text: str
    k: int = 3


def intake_response(services: Any, principal: Principal, result: IntakeResult) -> dict[str, Any]:
    """Return the JSON answer of an intake (shared by the API and Open311)."""
    return {
        "case": services.cases.view_alone(principal, result.case),
        "created": result.created,
        "duplicates": [d.as_json() for d in result.duplicates],
        "auto_dispatched": result.auto_dispatched,
        "location_note": result.location_note,
    }


@router.post("", status_code=201)
def create_case(
    request: Request,
    body: CaseIn,
    principal: Annotated[Principal, Depends(Require("cases:create"))],
    response: Response,
) -> dict[str, Any]:
    """Register a case; 200 with the existing case when channel + external_ref repeat."""
    services = services_of(request)
    result = services.intake.accept(principal, IntakeRequest(**body.model_dump()))
    if not result.created:
        response.status_code = 200
    return intake_response(services, principal, result)


@router.post("/preview")
def preview_case(
    request: Request,
    body: CasePreviewIn,
    principal: Annotated[Principal, Depends(Require("cases:create"))],
) -> dict[str, Any]:
    """Preview intake as the clerk types: top-3 classes, place, department, duplicates.

    Checked as a new case (but the description may be missing); nothing is written.
    """
    fields = body.model_dump()
    fields["description"] = fields["description"] or ""
    preview = services_of(request).intake.preview(principal, IntakeRequest(**fields))
    return preview.as_json()


_MATTER = re.compile(r"^[0-9]{5}$")
_CHANNEL = re.compile(r"^[a-z_]{1,16}$")
_DEPARTMENT = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")


def _each(values: list[str] | None, shape: re.Pattern[str], name: str) -> tuple[str, ...]:
    """Check every value of a repeated query parameter against its shape."""
    for index, value in enumerate(values or []):
        if not shape.fullmatch(value):
            raise ValidationFailed.single(f"{name}[{index}]", "format", f"{value!r} is malformed")
    return tuple(values or ())


def case_filter(
    request: Request,
    q: Annotated[str | None, Query(description="Text in the description")] = None,
    matter: Annotated[list[str] | None, Query(description="Matter class codes")] = None,
    status: Annotated[list[str] | None, Query(description="Statuses")] = None,
    light: Annotated[str | None, Query(pattern="^(green|yellow|red)$")] = None,
    channel: Annotated[list[str] | None, Query()] = None,
    division: Annotated[
        str | None, Query(description="District, street, community or grid")
    ] = None,
    department: Annotated[list[str] | None, Query()] = None,
    accepted_from: Annotated[str | None, Query(alias="from")] = None,
    accepted_to: Annotated[str | None, Query(alias="to")] = None,
    order: Annotated[str, Query(pattern="^(newest|oldest|due|overdue_first)$")] = "newest",
) -> CaseFilter:
    """Build a filter from query parameters."""
    zone = services_of(request).case_policy.zone
    statuses = []
    for index, value in enumerate(status or []):
        try:
            statuses.append(Status(value))
        except ValueError:
            raise ValidationFailed.single(
                f"status[{index}]", "one_of", ", ".join(s.value for s in Status)
            ) from None
    return CaseFilter(
        text=q or None,
        matter_codes=_each(matter, _MATTER, "matter"),
        statuses=tuple(statuses),
        light=light,
        channels=_each(channel, _CHANNEL, "channel"),
        division_code=division or None,
        department_codes=_each(department, _DEPARTMENT, "department"),
        accepted_from=parse_moment(accepted_from, "from", zone),
        accepted_to=parse_moment(accepted_to, "to", zone),
        order=Order(order),
    )


Filter = Annotated[CaseFilter, Depends(case_filter)]


@router.get("")
def search_cases(
    request: Request,
    principal: Reader,
    filters: Filter,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Search the cases you may see; paged, with the total."""
    return services_of(request).case_lists.search(principal, filters, limit=limit, offset=offset)


@router.get("/queue")
def my_queue(
    request: Request,
    principal: Reader,
    queue: Annotated[
        str | None, Query(description="intake, dispatch, department, verify or command")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Return your role's work list (or the one named)."""
    return services_of(request).case_lists.queue(principal, queue, limit=limit, offset=offset)


@router.get("/export")
def export_cases(
    request: Request,
    principal: Reader,
    filters: Filter,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    """Download matching cases as CSV (UTF-8 with BOM) or Excel."""
    content, media_type = services_of(request).case_lists.export(principal, filters, format)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="cases.{format}"'},
    )


@router.get("/kpis")
def case_kpis(
    request: Request,
    principal: Annotated[Principal, Depends(Require("analytics:read"))],
    filters: Filter,
    by: Annotated[str, Query(description="department, district, street, community, grid, …")] = (
        "department"
    ),
) -> dict[str, Any]:
    """KPIs (受理数 … 按期结案率, 返工率, working times, satisfaction, grades) per group."""
    return services_of(request).case_lists.kpis(
        principal,
        group_by=by,
        start=filters.accepted_from,
        end=filters.accepted_to,
        case_filter=filters,
    )


@router.post("/classify")
def classify_text(
    request: Request,
    body: ClassifyIn,
    principal: Annotated[Principal, Depends(Require("cases:create"))],
) -> list[dict[str, Any]]:
    """Suggest matter classes for a text as a clerk types (rules first, then the model)."""
    from cityops.catalog.reference import matter_classes

    names = matter_classes()
    return [
        {
            "code": s.code,
            "name": names[s.code].name if s.code in names else None,
            "confidence": round(s.confidence, 4),
            "source": s.source,
        }
        for s in services_of(request).classification.suggest_for(principal, body.text, body.k)
    ]


@router.get("/attachments/{attachment_id}")
def get_attachment(
    request: Request,
    attachment_id: Annotated[int, FastApiPath(ge=1, le=MAX_ID)],
    principal: Reader,
) -> Response:
    """Return a stored photo."""
    attachment, content = services_of(request).cases.photo(principal, attachment_id)
    return Response(content, media_type=attachment.content_type or "application/octet-stream")


@router.get("/{ref}")
def get_case(request: Request, ref: str, principal: Reader) -> dict[str, Any]:
    """Return a case with its history, reporters and attachments."""
    return services_of(request).cases.get(principal, ref)


@router.post("/{ref}/actions/{command}")
def act_on_case(
    request: Request,
    ref: str,
    command: str,
    principal: Reader,
    body: Annotated[CommandIn | None, Body()] = None,
) -> dict[str, Any]:
    """Apply a command (file, dispatch, report, verify_pass …); the service checks role and scope.

    A command that is not allowed now is refused with 409, the current state and allowed moves.
    """
    data = body or CommandIn()
    return services_of(request).cases.act(
        principal,
        ref,
        CommandRequest(
            command=command,
            comment=data.comment,
            attachments=tuple(data.attachments),
            satisfaction=data.satisfaction,
            department_code=data.department_code,
            extension=data.extension,
            matter_code=data.matter_code,
        ),
    )


@router.post("/{ref}/merge")
def merge_case(
    request: Request,
    ref: str,
    body: MergeIn,
    principal: Annotated[Principal, Depends(Require("cases:file"))],
) -> dict[str, Any]:
    """Merge this (duplicate) case into another; its reporters follow."""
    return services_of(request).cases.merge(principal, ref, body.into, body.comment)


@router.post("/{ref}/photos", status_code=201)
def upload_photo(
    request: Request,
    ref: str,
    principal: Reader,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
) -> JSONResponse:
    """Attach a photo (content type checked against the bytes, size limited)."""
    services = services_of(request)
    limit = services.case_policy.max_attachment_bytes
    content = file.file.read(limit + 1)
    attachment = services.cases.add_photo(
        principal, ref, content, file.content_type or "", file.filename
    )
    return JSONResponse(attachment.as_json(), status_code=201)
