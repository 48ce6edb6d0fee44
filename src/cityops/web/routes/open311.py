"""Open311 GeoReport v2 for citizen apps, at ``/open311/v2/`` (JSON or XML by the path's suffix).

Reading services and service requests is public and shows no personal data. Posting a request
(and the cityops extension: rating a closed one) needs an ``api_key`` form field, as the spec
says, holding ``cases:create``; an ``X-API-Key`` header or a bearer token works too. A browser
session cookie is never used here, so a cross-site form cannot post in a signed-in user's name.
Errors are the spec's list of ``{code, description}``, in the requested format. See
docs/open311.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from cityops.auth.model import Grant, Principal
from cityops.auth.scopes import Scope
from cityops.bootstrap import Services
from cityops.cases import open311, open311_xml
from cityops.cases.model import Case, case_number, parse_case_number
from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.queries import visibility
from cityops.cases.service import CommandRequest
from cityops.cases.workflow import Status
from cityops.kernel.errors import (
    AuthenticationFailed,
    CityOpsError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from cityops.web.security import API_KEY_HEADER, Require, services_of

router = APIRouter(prefix="/open311/v2", tags=["open311"])

XML_TYPE = "text/xml; charset=utf-8"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Who reads for the public: cases:read in the whole city, and nothing else.
READER = Principal(
    "system", "open311", (Grant("open311", Scope.city(), frozenset({"cases:read"})),)
)
MAX_MERGE_HOPS = 10

Format = Annotated[str, Path(description="json or xml")]
Text = Annotated[str | None, Form()]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who posts: a principal, or why there is none (answered in the Open311 error format)."""

    principal: Principal | None = None
    refusal: CityOpsError | None = None

    def require(self) -> Principal:
        """Return the principal or raise the refusal."""
        if self.principal is None:
            raise self.refusal or AuthenticationFailed("api_key: required")
        return self.principal


class ApiKeyInForm(Require):
    """Declare and check the permission of an Open311 poster, who sends ``api_key`` in the form.

    A request with no credential at all that is not even a form is answered like every other
    protected route (401 problem+json); a bad bearer token too. A missing, invalid or
    under-privileged ``api_key`` is answered by the route in the Open311 format (403).
    """

    def __call__(  # type: ignore[override]
        self, request: Request, api_key: Annotated[str | None, Form()] = None
    ) -> Caller:
        """Return the caller (never from a session cookie); FastAPI has read the form already."""
        services = services_of(request)
        key = (api_key or request.headers.get(API_KEY_HEADER) or "").strip()
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        principal: Principal | None
        if key:
            principal = services.signin.principal_for_api_key(key)
            if principal is None:
                return Caller(refusal=PermissionDenied("api_key: invalid, revoked or expired"))
        elif scheme.lower() == "bearer" and token.strip():
            principal = services.signin.principal_for_session(token.strip())
            if principal is None:
                raise AuthenticationFailed("the bearer token is invalid or has expired")
        elif request.headers.get("content-type", "").startswith(FORM_TYPES):
            return Caller(refusal=PermissionDenied("api_key: required (rule: required)"))
        else:
            raise AuthenticationFailed("send the api_key form field (or an X-API-Key header)")
        assert self.permission is not None
        if not principal.has_anywhere(self.permission):
            return Caller(refusal=PermissionDenied(f"api_key: lacks {self.permission}"))
        return Caller(principal)


Poster = Annotated[Caller, Depends(ApiKeyInForm("cases:create"))]


# --------------------------------------------------------------------------- answering


def _json(data: Any, status: int) -> Response:
    return JSONResponse(data, status_code=status, media_type="application/json")


def _answer(
    fmt: str,
    produce: Callable[[], Any],
    *,
    root: str,
    item: str | None,
    status: int = 200,
) -> Response:
    """Run ``produce`` and answer its data, or its error, in the requested format.

    ``item`` names the elements of a list in XML; ``None`` means the data is one object.
    """
    if fmt not in open311.FORMATS:
        failure = NotFound(f"format: {fmt!r} is not json or xml")
        return _json(open311.errors(failure), 404)
    try:
        data = produce()
    except CityOpsError as error:
        code = open311.error_status(error)
        listed = open311.errors(error)
        if fmt == "json":
            return _json(listed, code)
        return Response(open311_xml.xml_list("errors", "error", listed), code, media_type=XML_TYPE)
    if fmt == "json":
        return _json(data, status)
    body = open311_xml.xml_list(root, item, data) if item else open311_xml.xml_object(root, data)
    return Response(body, status, media_type=XML_TYPE)


# --------------------------------------------------------------------------- reading


def _agency(case: Case, names: dict[str, str]) -> str | None:
    code = case.department_code
    return names.get(code, code) if code else None


def _facts(
    uow: CasesUnitOfWork, case: Case, names: dict[str, str], *, hops: int = 0
) -> open311.RequestFacts:
    """Gather what the public record of ``case`` needs (following a merge to the survivor)."""
    media = next((a.url for a in uow.cases.attachments(case.id) if a.kind == "url" and a.url), None)
    survivor = None
    if case.merged_into is not None and hops < MAX_MERGE_HOPS:
        into = uow.cases.get(case.merged_into)
        if into is not None:
            survivor = _facts(uow, into, names, hops=hops + 1)
            survivor = survivor.survivor or survivor
    return open311.RequestFacts(
        case=case,
        history=uow.cases.history(case.id),
        media_url=media,
        agency=_agency(case, names),
        survivor=survivor,
    )


def _department_names(uow: CasesUnitOfWork) -> dict[str, str]:
    return {d.code: d.name for d in uow.departments.list()}


def _load(services: Services, uow: CasesUnitOfWork, ref: str) -> Case:
    """Return the case a service_request_id (a case number, exactly) names, or raise NotFound."""
    value = ref.strip()
    missing = NotFound(f"service_request_id: there is no service request {ref!r}")
    if not (value.isascii() and value.isdigit() and len(value) > 8):
        raise missing
    try:
        case_id, _ = parse_case_number(value)
    except ValidationFailed:
        raise missing from None
    case = services.cases.load(uow, READER, case_id)
    if case_number(case.id, case.accepted_at, services.case_policy.zone) != value:
        raise missing
    return case


def _records(services: Services, refs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Return the public records of the cases named (those that do not exist are left out)."""
    zone = services.case_policy.zone
    found = []
    with services.store.unit_of_work(read_only=True) as uow:
        names = _department_names(uow)
        for ref in refs:
            try:
                case = _load(services, uow, ref)
            except NotFound:
                continue
            found.append(open311.service_request(_facts(uow, case, names), zone))
    return found


def _one(services: Services, ref: str) -> list[dict[str, Any]]:
    with services.store.unit_of_work(read_only=True) as uow:
        case = _load(services, uow, ref)
        facts = _facts(uow, case, _department_names(uow))
    return [open311.service_request(facts, services.case_policy.zone)]


def _search(services: Services, query: open311.RequestQuery) -> list[dict[str, Any]]:
    if query.ids:
        return _records(services, query.ids)
    zone = services.case_policy.zone
    with services.store.unit_of_work(read_only=True) as uow:
        departments = uow.departments.list()
        seen = visibility(READER, "cases:read", departments)
        names = {d.code: d.name for d in departments}
        found, _ = uow.cases.search(
            query.case_filter,
            seen,
            services.clock.now(),
            limit=open311.MAX_REQUESTS,
            offset=0,
        )
        return [open311.service_request(_facts(uow, case, names), zone) for case in found]


@router.get("/services.{fmt}")
def list_services(
    fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(description="Accepted and ignored")] = None,
) -> Response:
    """List the services: one per GB/T 47678.5 matter class (``service_code`` = class code)."""
    return _answer(fmt, open311.services, root="services", item="service")


@router.get("/services/{service_code}.{fmt}")
def get_service_definition(
    service_code: str,
    fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(description="Accepted and ignored")] = None,
) -> Response:
    """Return a service's definition (no extra attributes); 404 for an unknown code."""
    return _answer(
        fmt,
        lambda: open311.service_definition(service_code),
        root="service_definition",
        item=None,
    )


@router.get("/requests.{fmt}")
def list_requests(
    request: Request,
    fmt: Format,
    service_request_id: Annotated[
        str | None, Query(description="Case numbers, comma separated; overrides the rest")
    ] = None,
    service_code: Annotated[str | None, Query(description="Comma separated")] = None,
    start_date: Annotated[str | None, Query(description="W3C date-time")] = None,
    end_date: Annotated[str | None, Query(description="W3C date-time")] = None,
    status: Annotated[str | None, Query(description="open, closed or both")] = None,
    jurisdiction_id: Annotated[str | None, Query(description="Accepted and ignored")] = None,
) -> Response:
    """List service requests, newest first: at most 1000, by default of the last 90 days."""
    services = services_of(request)

    def produce() -> list[dict[str, Any]]:
        query = open311.request_query(
            service_request_id=service_request_id,
            service_code=service_code,
            start_date=start_date,
            end_date=end_date,
            status=status,
            now=services.clock.now(),
            zone=services.case_policy.zone,
        )
        return _search(services, query)

    return _answer(fmt, produce, root="service_requests", item="request")


@router.get("/requests/{service_request_id}.{fmt}")
def get_request(
    request: Request,
    service_request_id: str,
    fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(description="Accepted and ignored")] = None,
) -> Response:
    """Return one service request (as a list of one, like the spec)."""
    services = services_of(request)
    return _answer(
        fmt,
        lambda: _one(services, service_request_id),
        root="service_requests",
        item="request",
    )


# --------------------------------------------------------------------------- writing


def _acting(principal: Principal) -> Principal:
    """Return the poster, also reading cases where it may create them.

    Reading is public through Open311 anyway; the case service loads a case (cases:read)
    before it attaches a media URL or applies ``evaluate``, which only need cases:create.
    """
    reads = tuple(
        Grant("open311", g.scope, frozenset({"cases:read"}))
        for g in principal.grants
        if "cases:create" in g.permissions
    )
    return replace(principal, grants=(*principal.grants, *reads))


@router.post("/requests.{fmt}")
def post_request(
    request: Request,
    fmt: Format,
    caller: Poster,
    service_code: Text = None,
    lat: Text = None,
    long: Text = None,
    address_string: Text = None,
    address_id: Text = None,
    description: Text = None,
    email: Text = None,
    first_name: Text = None,
    last_name: Text = None,
    phone: Text = None,
    device_id: Text = None,
    account_id: Text = None,
    media_url: Text = None,
    jurisdiction_id: Text = None,
) -> Response:
    """Report a problem (form-encoded, as the spec says); 201 with the new case's number."""
    services = services_of(request)
    form = open311.RequestForm(
        service_code=service_code,
        lat=lat,
        long=long,
        address_string=address_string,
        address_id=address_id,
        description=description,
        email=email,
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        device_id=device_id,
        account_id=account_id,
        media_url=media_url,
    )

    def produce() -> list[dict[str, Any]]:
        principal = caller.require()
        result = services.intake.accept(principal, open311.intake_request(form))
        if media_url and media_url.strip():
            services.cases.add_url(_acting(principal), result.case.id, media_url.strip())
        zone = services.case_policy.zone
        return [open311.posted(result.case, zone, account_id, len(result.duplicates))]

    return _answer(fmt, produce, root="service_requests", item="request", status=201)


@router.post("/requests/{service_request_id}/rating.{fmt}")
def rate_request(
    request: Request,
    service_request_id: str,
    fmt: Format,
    caller: Poster,
    rating: Annotated[str | None, Form(description="1 (very unhappy) to 5 (very happy)")] = None,
    comment: Annotated[str | None, Form(description="What the citizen says")] = None,
) -> Response:
    """Rate a closed request 1–5 (cityops extension: the 回访/评价 step); 409 unless closed.

    A merged request rates the case it was merged into.
    """
    services = services_of(request)

    def produce() -> list[dict[str, Any]]:
        principal = caller.require()
        open311.no_nul({"rating": rating, "comment": comment})
        satisfaction = open311.check_rating(rating)
        with services.store.unit_of_work(read_only=True) as uow:
            case = _load(services, uow, service_request_id)
            facts = _facts(uow, case, {})
        target = (facts.survivor or facts).case
        if target.status is Status.EVALUATED:
            raise Conflict(f"service request {service_request_id} has been rated already")
        if target.status is not Status.CLOSED:
            raise Conflict(
                f"service request {service_request_id} is {open311.open311_status(target.status)}"
                f" ({target.status.value}); it can be rated once it is closed"
            )
        text = (comment or "").strip() or None
        services.cases.act(
            _acting(principal),
            target.id,
            CommandRequest(command="evaluate", comment=text, satisfaction=satisfaction),
        )
        return _one(services, service_request_id)

    return _answer(fmt, produce, root="service_requests", item="request")
