"""The case loop as a service: read a case, apply commands with role and scope checks, merge.

Every command is checked against the permission the state machine names, in the scope of the
case (its division and its department chain), then written with its history entry, an audit
entry and an event in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cityops.auth.audit import make_entry
from cityops.auth.model import Department, Grant, Principal
from cityops.auth.scopes import ResourceScope
from cityops.cases.advance import Step, advance
from cityops.cases.events import CaseMoved, CasesMerged
from cityops.cases.model import (
    Attachment,
    Case,
    HistoryEntry,
    case_number,
    check_text,
    mask_name,
    mask_phone,
    parse_case_number,
)
from cityops.cases.policy import CasePolicy
from cityops.cases.ports import CasesUnitOfWork, NewAttachment
from cityops.cases.queries import department_chain
from cityops.cases.rules import most_specific
from cityops.cases.views import case_view, contact_visible
from cityops.cases.workflow import OPEN, RULES, Command
from cityops.catalog.reference import check_matter_class
from cityops.kernel.clock import Clock
from cityops.kernel.errors import Conflict, NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.kernel.worktime import WorkingCalendar, WorkingLimit, parse_limit

MAX_COMMENT = 1000
# Who may add photos: whoever registers, handles or verifies cases.
_ATTACHERS = ("cases:create", "cases:handle", "cases:verify")
IMAGE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}


class AttachmentFiles(Protocol):
    """Where photo bytes are kept, by content hash."""

    def put(self, sha256: str, data: bytes) -> None:
        """Store bytes under their hash (idempotent)."""
        ...

    def get(self, sha256: str) -> bytes:
        """Return stored bytes."""
        ...


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command with what it may carry."""

    command: str
    comment: str | None = None
    attachments: tuple[int, ...] = ()
    satisfaction: int | None = None
    department_code: str | None = None
    extension: str | None = None
    matter_code: str | None = None  # file: the clerk may correct the class


class CaseService:
    """Read cases and move them through the loop."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        calendar: WorkingCalendar,
        policy: CasePolicy,
        files: AttachmentFiles,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._calendar = calendar
        self._policy = policy
        self._files = files

    def resource(
        self,
        uow: CasesUnitOfWork,
        case: Case,
        departments: Mapping[str, Department] | None = None,
    ) -> ResourceScope:
        """Return where a case lives, for scope checks."""
        if departments is None:
            departments = {d.code: d for d in uow.departments.list()}
        return ResourceScope(
            case.division_code, department_chain(case.department_code, departments)
        )

    def load(
        self,
        uow: CasesUnitOfWork,
        principal: Principal,
        ref: str | int,
        permissions: tuple[str, ...] = ("cases:read",),
        *,
        for_update: bool = False,
        departments: Mapping[str, Department] | None = None,
    ) -> Case:
        """Return a case the principal may read (or act on with one of ``permissions``).

        A case outside every such scope is not found: its existence is not disclosed.
        ``for_update`` locks the row until the transaction ends.
        """
        case_id, day = (ref, None) if isinstance(ref, int) else parse_case_number(ref)
        case = uow.cases.get(case_id, for_update=for_update)
        missing = NotFound(f"no case {ref}")
        if case is None:
            raise missing
        if day is not None and f"{case.accepted_at.astimezone(self._policy.zone):%Y%m%d}" != day:
            raise missing
        resource = self.resource(uow, case, departments)
        if not any(principal.can(p, resource) for p in ("cases:read", *permissions)):
            raise missing
        return case

    def view(
        self,
        principal: Principal,
        case: Case,
        uow: CasesUnitOfWork,
        departments: Mapping[str, Department] | None = None,
    ) -> dict[str, Any]:
        """Return a case as the principal may see it (pass ``departments`` when showing many)."""
        show = contact_visible(principal, case, lambda: self.resource(uow, case, departments))
        return case_view(
            case,
            now=self._clock.now(),
            calendar=self._calendar,
            policy=self._policy,
            show_contact=show,
        )

    def view_alone(self, principal: Principal, case: Case) -> dict[str, Any]:
        """Return :meth:`view` of one case; the store is read only if the grants need it."""

        def resource() -> ResourceScope:
            with self._unit_of_work(read_only=True) as uow:
                return self.resource(uow, case)

        show = contact_visible(principal, case, resource)
        now = self._clock.now()
        return case_view(
            case, now=now, calendar=self._calendar, policy=self._policy, show_contact=show
        )

    def get(self, principal: Principal, ref: str | int) -> dict[str, Any]:
        """Return one case with its history, reporters and attachments."""
        with self._unit_of_work(read_only=True) as uow:
            case = self.load(uow, principal, ref)
            departments = {d.code: d for d in uow.departments.list()}
            data = self.view(principal, case, uow, departments)
            owner = departments.get(case.department_code or "")
            data["department_name"] = owner.name if owner else None
            resource = self.resource(uow, case, departments)
            # The moves this caller may make now (the state allows them and a grant covers the
            # case); the service still checks each command when it is sent.
            data["your_commands"] = [
                command
                for command in data["allowed_commands"]
                if principal.can(RULES[Command(command)].permission, resource)
            ]
            data["history"] = [entry.as_json() for entry in uow.cases.history(case.id)]
            data["attachments"] = [a.as_json() for a in uow.cases.attachments(case.id)]
            show = data["reporter"]["masked"] is False
            data["reporters"] = [
                {
                    "channel": r.channel.value,
                    "from_case_id": r.from_case_id,
                    "name": r.name if show else mask_name(r.name),
                    "phone": r.phone if show else mask_phone(r.phone),
                }
                for r in uow.cases.reporters(case.id)
            ]
        return data

    def act(self, principal: Principal, ref: str | int, request: CommandRequest) -> dict[str, Any]:
        """Apply a command; refusals name the current state and the allowed moves."""
        try:
            command = Command(request.command)
        except ValueError:
            choices = ", ".join(c.value for c in Command)
            raise ValidationFailed.single(
                "command", "one_of", f"{request.command!r} is not one of {choices}"
            ) from None
        extension = parse_limit(request.extension, field="extension") if request.extension else None
        comment = check_text(request.comment, "comment", MAX_COMMENT)
        now = self._clock.now()
        with self._unit_of_work() as uow:
            permission = RULES[command].permission
            departments = {d.code: d for d in uow.departments.list()}
            case = self.load(
                uow, principal, ref, (permission,), for_update=True, departments=departments
            )
            grant = principal.authorize(permission, self.resource(uow, case, departments))
            if (
                command is Command.DISPATCH
                and request.department_code
                and uow.departments.get(request.department_code) is None
            ):
                raise ValidationFailed.single(
                    "department_code",
                    "department_exists",
                    f"no department {request.department_code}",
                )
            if request.matter_code and command is Command.FILE:
                check_matter_class(request.matter_code, field="matter_code")
                case.matter_code, case.class_source, case.class_confidence = (
                    request.matter_code,
                    "clerk",
                    1.0,
                )
            self._check_attachments(uow, case, request.attachments)
            if command is Command.APPROVE_EXTENSION and extension is None:
                extension = _requested_extension(uow.cases.history(case.id))
            codes = [c for c in (case.grid_code, case.community_code, case.street_code) if c]
            rule = (
                most_specific(
                    uow.matter_rules.for_matter(case.matter_code),
                    [*codes, case.district_code or ""],
                )
                if case.matter_code
                else None
            )
            step = Step(
                command,
                actor=principal.name,
                role=grant.role,
                comment=comment,
                attachments=request.attachments,
                satisfaction=request.satisfaction,
                department_code=request.department_code,
                extension=extension,
            )
            entry = advance(
                case, step, now=now, calendar=self._calendar, policy=self._policy, rule=rule
            )
            self._write(uow, principal, grant, case, entry)
            uow.commit()
            return self.view(principal, case, uow, departments)

    def _write(
        self,
        uow: CasesUnitOfWork,
        principal: Principal,
        grant: Grant,
        case: Case,
        entry: HistoryEntry,
    ) -> None:
        number = case_number(case.id, case.accepted_at, self._policy.zone)
        uow.cases.update(case)
        uow.cases.add_history([entry])
        uow.audit.append(
            make_entry(
                self._clock,
                principal,
                grant,
                action=f"cases.{entry.command}",
                object_type="case",
                object_id=number,
                before={"status": entry.from_status.value if entry.from_status else None},
                after={"status": entry.to_status.value, "comment": entry.comment, **entry.data},
            )
        )
        uow.record(
            CaseMoved(
                case_id=case.id,
                number=number,
                command=entry.command,
                from_status=entry.from_status.value if entry.from_status else "",
                to_status=entry.to_status.value,
                actor=entry.actor,
                department_code=case.department_code,
                grid_code=case.grid_code,
            )
        )

    def merge(
        self,
        principal: Principal,
        duplicate_ref: str | int,
        into_ref: str | int,
        comment: str | None = None,
    ) -> dict[str, Any]:
        """Merge a duplicate into another open case; its reporters keep getting updates."""
        now = self._clock.now()
        comment = check_text(comment, "comment", MAX_COMMENT)
        with self._unit_of_work() as uow:
            duplicate = self.load(uow, principal, duplicate_ref)
            target = self.load(uow, principal, into_ref)
            if duplicate.id == target.id:
                raise ValidationFailed.single(
                    "into", "different_case", "cannot merge a case into itself"
                )
            if duplicate.status not in OPEN or target.status not in OPEN:
                raise Conflict("only open cases can be merged")
            if target.merged_into is not None:
                raise Conflict("the target case was itself merged; merge into the surviving case")
            grant = principal.authorize("cases:file", self.resource(uow, duplicate))
            principal.authorize("cases:file", self.resource(uow, target))
            reason = (
                comment
                or f"并案 into {case_number(target.id, target.accepted_at, self._policy.zone)}"
            )
            entry = advance(
                duplicate,
                Step(Command.VOID, actor=principal.name, role=grant.role, comment=reason),
                now=now,
                calendar=self._calendar,
                policy=self._policy,
                rule=None,
            )
            duplicate.merged_into = target.id
            entry = replace(entry, command="merge", data={"into": target.id})
            self._write(uow, principal, grant, duplicate, entry)
            moved = uow.cases.move_reporters(duplicate.id, target.id)
            uow.cases.add_history(
                [
                    HistoryEntry(
                        case_id=target.id,
                        at=now,
                        actor=principal.name,
                        role=grant.role,
                        command="merged_in",
                        from_status=target.status,
                        to_status=target.status,
                        comment=reason,
                        data={"from": duplicate.id, "reporters": moved},
                    )
                ]
            )
            uow.record(
                CasesMerged(case_id=target.id, merged_case_id=duplicate.id, reporters_moved=moved)
            )
            uow.commit()
            return self.view(principal, target, uow)

    def add_photo(
        self,
        principal: Principal,
        ref: str | int,
        data: bytes,
        content_type: str,
        filename: str | None,
    ) -> Attachment:
        """Store a photo of a case (type sniffed from the bytes, size limited)."""
        kind = content_type.split(";")[0].strip().lower()
        if kind not in IMAGE_TYPES:
            raise ValidationFailed.single(
                "file", "content_type", f"{kind!r} is not one of {', '.join(IMAGE_TYPES)}"
            )
        if not data:
            raise ValidationFailed.single("file", "not_empty", "the file is empty")
        if len(data) > self._policy.max_attachment_bytes:
            raise ValidationFailed.single(
                "file", "max_size", f"at most {self._policy.max_attachment_bytes} bytes"
            )
        if not any(data.startswith(magic) for magic in IMAGE_TYPES[kind]) or (
            kind == "image/webp" and data[8:12] != b"WEBP"
        ):
            raise ValidationFailed.single(
                "file", "content_matches_type", f"the bytes are not {kind}"
            )
        digest = hashlib.sha256(data).hexdigest()
        return self._attach(
            principal,
            ref,
            NewAttachment(
                0,
                "file",
                "",
                self._clock.now(),
                digest,
                kind,
                len(data),
                (filename or "")[:200] or None,
            ),
            data,
        )

    def add_url(self, principal: Principal, ref: str | int, url: str) -> Attachment:
        """Record a media URL (Open311's media_url)."""
        if not url.startswith(("http://", "https://")) or len(url) > 1000:
            raise ValidationFailed.single(
                "media_url", "url", "an http(s) URL of at most 1000 characters"
            )
        return self._attach(
            principal, ref, NewAttachment(0, "url", "", self._clock.now(), url=url), None
        )

    def _attach(
        self, principal: Principal, ref: str | int, new: NewAttachment, data: bytes | None
    ) -> Attachment:
        with self._unit_of_work() as uow:
            case = self.load(uow, principal, ref, _ATTACHERS)
            resource = self.resource(uow, case)
            if not any(principal.can(p, resource) for p in _ATTACHERS):
                principal.authorize("cases:create", resource)
            if data is not None and new.sha256:
                self._files.put(new.sha256, data)
            stored = replace(new, case_id=case.id, added_by=principal.name)
            attachment_id = uow.cases.add_attachment(stored)
            uow.commit()
            found = uow.cases.attachment(attachment_id)
        assert found is not None
        return found

    def photo(self, principal: Principal, attachment_id: int) -> tuple[Attachment, bytes]:
        """Return a stored photo and its bytes."""
        with self._unit_of_work(read_only=True) as uow:
            attachment = uow.cases.attachment(attachment_id)
            if attachment is None:
                raise NotFound(f"no attachment {attachment_id}")
            self.load(uow, principal, attachment.case_id)
        if attachment.kind != "file" or attachment.sha256 is None:
            raise NotFound(f"attachment {attachment_id} is a link, not a stored file")
        return attachment, self._files.get(attachment.sha256)

    @staticmethod
    def _check_attachments(uow: CasesUnitOfWork, case: Case, ids: Sequence[int]) -> None:
        for index, attachment_id in enumerate(ids):
            found = uow.cases.attachment(attachment_id)
            if found is None or found.case_id != case.id:
                raise ValidationFailed.single(
                    f"attachments[{index}]",
                    "attachment_of_case",
                    f"no attachment {attachment_id} on this case",
                )


def _requested_extension(history: list[HistoryEntry]) -> WorkingLimit:
    for entry in reversed(history):
        if entry.command == Command.REQUEST_EXTENSION.value and "extension" in entry.data:
            return parse_limit(str(entry.data["extension"]), field="extension")
    raise ValidationFailed.single("extension", "required", "no requested extension found")
