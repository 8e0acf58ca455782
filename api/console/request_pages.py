"""The officer's requests: the queue, one request with its timeline and the actions its
state allows, the intake form and the export download.

The views call :class:`governance.requests.services.RequestService` exactly as
``api.requests`` does, in the request's unit of work, and ``/execute`` hands the steps to
the runtime's task runner once the response is done (after the commit), as the API does.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as AnyResponse  # what redirect() returns

from api.audit import _integrate
from api.console.access import page, users
from api.console.forms import (
    ActionForm,
    ExtendForm,
    IntakeForm,
    QueueFilterForm,
    RejectForm,
    SearchForm,
    VerifyForm,
    show_errors,
)
from api.context import actor, delivered, record, runtime
from api.pagination import InvalidCursor, decode_cursor, encode_cursor
from audit.events import AuditEvent
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.consent.services import ConsentService
from governance.errors import GovernanceError
from governance.jobs.service import JobKind, Jobs
from governance.requests.deadlines import (
    Regulation,
    RequestType,
    extendable,
    extension_explanation,
    needs_verification,
)
from governance.requests.errors import AmbiguousSubject, DuplicateRequest, InvalidRequest
from governance.requests.failures import explanation as failure_explanation
from governance.requests.models import DsrRequest, RequestStatus
from governance.requests.services import (
    OPEN_STATUSES,
    QueueFilter,
    RequestService,
    statuses_named,
)
from governance.subjects.services import SubjectDirectory
from governance.timestamps import as_utc

MANAGE = Permission.REQUESTS_MANAGE
PAGE_SIZE = 50
_CURSOR_SCOPE = "console/queue"
_TIMELINE_SCAN = 2000  # newest events about the subject searched for this request's events


def _service() -> RequestService:
    return RequestService(g.session, runtime(), actor(), request_id=g.request_id)


# -- the queue ------------------------------------------------------------------------------
def queue() -> tuple[str, int]:
    """The queue by due date with GET filters; a POST is a search for one person (by e-mail
    or id, all statuses), sent in the body so that an e-mail never sits in a URL, a browser
    history or an access log, and never echoed back into the page."""
    form = QueueFilterForm(request.args)
    search = SearchForm()
    searching = request.method == "POST"
    problem = None
    if not form.validate():
        problem = "Some filters are not valid; they are shown next to the field."
    if searching and not search.validate():
        problem = "The search is not an e-mail address or an id."
    status = "all" if searching else (form.status.data or "open")
    statuses = (
        tuple(s.value for s in RequestStatus)
        if status == "all"
        else statuses_named([status])
        if status in ("open", "closed", *(s.value for s in RequestStatus))
        else ()
    )
    query = QueueFilter(
        statuses=statuses,
        overdue=True if form.due.data == "overdue" else None,
        due_within_days=(
            form.days.data if form.due.data == "within" and not form.days.errors else None
        ),
        types=(form.type.data,) if form.type.data else (),
        regulations=(form.regulation.data,) if form.regulation.data else (),
        search=(search.q.data or "").strip() or None if searching else None,
    )
    after = None
    cursor = request.args.get("after")
    if cursor:
        try:
            raw = decode_cursor(cursor, list, scope=_CURSOR_SCOPE)
            after = (str(raw[0]), str(raw[1])) if raw and len(raw) == 2 else None
        except InvalidCursor:
            problem = "The page link is out of date; showing the first page."
    service = _service()
    items: list[DsrRequest] = []
    next_after = None
    if problem is None or cursor:
        more = None
        try:
            items, more = service.list(query, after=after, limit=PAGE_SIZE)
        except InvalidRequest as invalid:  # an e-mail that is not one
            show_errors(search, invalid.extra.get("errors", {}), aliases={"email": "q"})
            problem = "The search is not an e-mail address or an id."
            more = None
        next_after = encode_cursor(list(more), scope=_CURSOR_SCOPE) if more else None
    record(
        AuditEvent(
            action=str(AuditAction.REQUEST_LISTED),
            actor=actor(),
            policy_version=runtime().policy.version,
            details={"count": len(items)},
        )
    )
    exported = service.exports_available([r.id for r in items])
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "after"}
    searched_email = searching and "@" in (search.q.data or "")
    if searched_email:
        search.q.data = ""  # not echoed: the page must not carry the address
    return render_template(
        "console/queue.html",
        form=form,
        search=search,
        searching=searching,
        searched_email=searched_email,
        items=items,
        counts=service.counts(),
        returned=service.returned_subjects(),
        exported=exported,
        problem=problem,
        first_page=bool(cursor),
        next_url=url_for("console.queue", **args, after=next_after) if next_after else None,
        first_url=url_for("console.queue", **args),
    ), (422 if problem and not cursor else 200)


# -- one request ----------------------------------------------------------------------------
def _timeline(item: DsrRequest) -> list[dict[str, Any]]:
    """The request's own audit events (transitions, steps, downloads), oldest first."""
    rt = runtime()
    if item.subject_id is None:
        return []
    events = rt.audit.events(
        g.session, subject_id=item.subject_id, action="request.*", limit=_TIMELINE_SCAN
    )
    names = {u.actor_id: u.name for u in users().list()}
    found = []
    for e in events:
        doc = e.document
        if doc.get("target", {}).get("record_id") != item.id:
            continue
        who = doc["actor"]["id"]
        found.append(
            {
                "time": doc["time"],
                "action": doc["action"],
                "outcome": doc["outcome"],
                "actor": names.get(who, who),
                "details": doc.get("details", {}),
            }
        )
    return found


def _actions(item: DsrRequest) -> dict[str, bool]:
    kind, law = RequestType(item.type), Regulation(item.regulation)
    status = RequestStatus(item.status)
    now = datetime.now(UTC)
    open_ = item.status in OPEN_STATUSES
    due = as_utc(item.due_at) or now
    return {
        "verify": status is RequestStatus.RECEIVED and needs_verification(law, kind),
        "reject": status in (RequestStatus.RECEIVED, RequestStatus.VERIFIED, RequestStatus.FAILED),
        "extend": open_ and extendable(law, kind) and not item.extended and now <= due,
        "execute": status is RequestStatus.VERIFIED
        or (status is RequestStatus.RECEIVED and not needs_verification(law, kind)),
        "resume": status in (RequestStatus.FAILED, RequestStatus.IN_PROGRESS),
    }


def _request_page(
    request_id: str,
    *,
    problem: str | None = None,
    status: int = 200,
    verify: VerifyForm | None = None,
    reject: RejectForm | None = None,
    extend: ExtendForm | None = None,
) -> tuple[str, int]:
    service = _service()
    item = service.get(request_id)
    subject = None
    if item.subject_id is not None:
        consent = ConsentService(g.session, runtime(), actor(), request_id=g.request_id)
        subject = SubjectDirectory(g.session, runtime(), consent).find(subject_id=item.subject_id)
    return render_template(
        "console/request.html",
        item=item,
        steps=service.steps(item.id),
        subject=subject,
        timeline=_timeline(item),
        actions=_actions(item),
        export_available=bool(service.exports_available([item.id])),
        extension_explanation=extension_explanation(item.extension_reason),
        error_explanation=failure_explanation(item.error),
        problem=problem,
        job=Jobs(g.session).latest_for(JobKind.REQUEST_EXECUTE, item.id),
        verify=verify or VerifyForm(formdata=None),
        reject=reject or RejectForm(formdata=None),
        extend=extend or ExtendForm(formdata=None),
        action=ActionForm(),
    ), status


def detail(request_id: str) -> tuple[str, int]:
    _integrate()  # the timeline is read from the log: integrate what is queued first
    return _request_page(request_id)


def _act(request_id: str, do: Any, **forms: Any) -> AnyResponse | tuple[str, int]:
    """Run one workflow step; on a refusal show the page again with why (nothing changed)."""
    try:
        do()
    except InvalidRequest as invalid:
        for form in forms.values():
            show_errors(form, invalid.extra.get("errors", {}))
        return _request_page(request_id, problem=invalid.detail, status=422, **forms)
    except GovernanceError as refused:
        if refused.status == 404:
            raise
        return _request_page(request_id, problem=refused.detail, status=refused.status, **forms)
    g.audited = True
    return redirect(url_for("console.request_detail", request_id=request_id), code=303)


def verify(request_id: str) -> AnyResponse | tuple[str, int]:
    form = VerifyForm()
    return _act(request_id, lambda: _service().verify(request_id, form.method.data), verify=form)


def reject(request_id: str) -> AnyResponse | tuple[str, int]:
    form = RejectForm()
    if not form.validate():
        return _request_page(request_id, problem="Give the reason.", status=422, reject=form)
    return _act(request_id, lambda: _service().reject(request_id, form.reason.data), reject=form)


def extend(request_id: str) -> AnyResponse | tuple[str, int]:
    form = ExtendForm()
    return _act(request_id, lambda: _service().extend(request_id, form.reason.data), extend=form)


def execute(request_id: str) -> AnyResponse | tuple[str, int]:
    def start() -> None:
        # As api.requests: the request started and its job recorded in this unit of work;
        # the job is delivered once it commits.
        delivered(_service().start_execution(request_id, trace_id=g.request_id))

    return _act(request_id, start)


def export(request_id: str) -> Response:
    content = _service().export(request_id)
    g.audited = True
    return Response(
        content,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="request-{request_id}.zip"'},
    )


# -- intake ---------------------------------------------------------------------------------
def _intake_details(form: IntakeForm) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    kind = form.type.data
    if kind == RequestType.OBJECTION.value:
        purposes = [p.strip() for p in (form.purposes.data or "").split(",") if p.strip()]
        return {"purposes": purposes}, {}
    if kind == RequestType.RECTIFICATION.value:
        values: dict[str, str] = {}
        errors: list[str] = []
        for n, line in enumerate((form.corrections.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                errors.append(f"line {n}: write field=value")
                continue
            values[name.strip()] = value.strip()
        if errors:
            return None, {"corrections": errors}
        correction: dict[str, Any] = {
            "collection": (form.collection.data or "").strip(),
            "fields": values,
        }
        if (form.record_id.data or "").strip():
            correction["record_id"] = form.record_id.data.strip()
        return {"corrections": [correction]}, {}
    return None, {}


def _intake_page(form: IntakeForm, status: int, **extra: Any) -> tuple[str, int]:
    if form.email.data:
        form.email.data = ""  # not echoed back: the page must not carry the address
        form.email.errors = [
            *list(form.email.errors or ()),
            "enter the e-mail again (it is not kept)",
        ]
    return render_template("console/intake.html", form=form, **extra), status


def intake() -> tuple[str, int] | AnyResponse:
    form = IntakeForm()
    if request.method == "GET":
        return render_template("console/intake.html", form=form), 200
    if not form.validate():
        return _intake_page(form, 422)
    email, sid = (form.email.data or "").strip(), (form.subject_id.data or "").strip()
    if bool(email) == bool(sid):
        form.email.errors = ["give the subject's e-mail or their id (one of them)"]
        return _intake_page(form, 422)
    details, errors = _intake_details(form)
    if errors:
        show_errors(form, errors)
        return _intake_page(form, 422)
    received = (
        datetime.combine(form.received_at.data, time(0), UTC) if form.received_at.data else None
    )
    try:
        created = _service().create(
            form.type.data or "",
            form.regulation.data or "",
            {"email": email} if email else {"subject_id": sid},
            details,
            received,
        )
    except DuplicateRequest as duplicate:
        existing = duplicate.extra["existing_request_id"]
        return _intake_page(form, 409, duplicate=existing)
    except AmbiguousSubject as several:
        # Never one of them by chance: the officer chooses and takes it in by subject id.
        return _intake_page(form, 409, ambiguous=several.extra["subject_ids"])
    except InvalidRequest as invalid:
        show_errors(
            form,
            invalid.extra.get("errors", {}),
            aliases={"corrections_0": "corrections", "details": "corrections", "subject": "email"},
        )
        return _intake_page(form, 422, problem=invalid.detail)
    g.audited = True
    return redirect(url_for("console.request_detail", request_id=created.id), code=303)


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/requests", "queue", page(MANAGE, AuditAction.REQUEST_LISTED)(queue))
    blp.add_url_rule(
        "/requests/search",
        "queue_search",
        page(MANAGE, AuditAction.REQUEST_LISTED)(queue),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/requests/new",
        "intake",
        page(MANAGE, AuditAction.REQUEST_CREATED)(intake),
        methods=["GET", "POST"],
    )
    blp.add_url_rule(
        "/requests/<request_id>", "request_detail", page(MANAGE, AuditAction.REQUEST_READ)(detail)
    )
    for name, fn, action in (
        ("verify", verify, AuditAction.REQUEST_VERIFIED),
        ("reject", reject, AuditAction.REQUEST_REJECTED),
        ("extend", extend, AuditAction.REQUEST_EXTENDED),
        ("execute", execute, AuditAction.REQUEST_STARTED),
    ):
        blp.add_url_rule(
            f"/requests/<request_id>/{name}",
            f"request_{name}",
            page(MANAGE, action)(fn),
            methods=["POST"],
        )
    blp.add_url_rule(
        "/requests/<request_id>/export",
        "request_export",
        page(MANAGE, AuditAction.REQUEST_EXPORT_DOWNLOADED)(export),
    )
