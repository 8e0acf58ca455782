"""Find a data subject the way a compliance officer is asked about one: by e-mail or by id.

The e-mail is turned into the data map's blind index at once and never stored, logged or
echoed; the summary holds ids, counts and states only, so it can be shown beside the
officer's queue without opening any encrypted field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from governance.consent.services import ConsentService
from governance.requests import erasure
from governance.requests.errors import AmbiguousSubject, InvalidRequest
from governance.requests.models import OPEN_STATUSES, DsrRequest
from governance.requests.suppression import returned_subjects
from governance.shared import Shared
from policies.types import ID_COLUMN

# Subjects listed for one e-mail at most (duplicates from before identities were unique).
MAX_MATCHES = 50


@dataclass(frozen=True)
class SubjectSummary:
    subject_id: str
    records: dict[str, int]
    consent: dict[str, dict[str, Any]]
    restricted: bool
    open_requests: list[DsrRequest] = field(default_factory=list)
    past_requests: list[DsrRequest] = field(default_factory=list)
    #: The subject's e-mail is that of a person erased earlier (written again since): for
    #: the officer to review; the application that wrote it is not told.
    matches_erased_subject: bool = False


class SubjectDirectory:
    """Read-only look-ups for officers, in the caller's unit of work."""

    def __init__(self, session: Session, runtime: Shared, consent: ConsentService) -> None:
        self.session = session
        self.runtime = runtime
        self.datamap = runtime.policy.datamap
        self.consent = consent

    def find(
        self, *, email: str | None = None, subject_id: str | None = None
    ) -> SubjectSummary | None:
        """The subject named by exactly one of ``email`` and ``subject_id``; None if none.
        An e-mail several subjects hold is AmbiguousSubject with their ids (see ``matches``)."""
        found = self.matches(email=email, subject_id=subject_id)
        if len(found) > 1:
            raise AmbiguousSubject([s.subject_id for s in found])
        return found[0] if found else None

    def matches(
        self, *, email: str | None = None, subject_id: str | None = None
    ) -> list[SubjectSummary]:
        """Every subject named by exactly one of ``email`` and ``subject_id``, in id order.
        An e-mail is an identity and unique for every write since identities were, but a
        store may hold duplicates from before: all of them are shown, never the first."""
        if (email is None) == (subject_id is None):
            raise InvalidRequest(
                "look a subject up by email or by id (one of them)",
                {"email": ["give exactly one of email, id"]},
            )
        subjects = self.runtime.tables[self.datamap.subject_collection]
        index = None
        if email is not None:
            index = self._email_index(email)
            column = erasure.email_field(self.datamap).blind_index_column  # type: ignore[union-attr]
            if column is None:  # the data map's validation makes the email a lookup field
                raise InvalidRequest(
                    "subjects cannot be looked up by email",
                    {"email": ["not a lookup field of the data map"]},
                )
            found = list(
                self.session.scalars(
                    select(subjects.c[ID_COLUMN])
                    .where(subjects.c[column] == index)
                    .order_by(subjects.c[ID_COLUMN])
                    .limit(MAX_MATCHES)
                )
            )
        else:
            found = list(
                self.session.scalars(
                    select(subjects.c[ID_COLUMN]).where(subjects.c[ID_COLUMN] == subject_id)
                )
            )
        return [self._summary(sid, index) for sid in found]

    def _email_index(self, email: str) -> bytes:
        field_ = erasure.email_field(self.datamap)
        email = email.strip()
        if field_ is None:
            raise InvalidRequest(
                "the data map has no email lookup field",
                {"email": ["not searchable in this store"]},
            )
        if "@" not in email or len(email) > 254 or any(c.isspace() or c == "\x00" for c in email):
            raise InvalidRequest(
                "the email is not an email address", {"email": ["must be an email address"]}
            )
        return self.runtime.crypto.blind_index(self.datamap.subject_collection, field_.name, email)

    def _summary(self, subject_id: str, email_index: bytes | None) -> SubjectSummary:
        records: dict[str, int] = {}
        for collection in self.datamap.subject_owned():
            owner = collection.owner_column
            if owner is None:
                continue
            table = self.runtime.tables[collection.name]
            count = (
                self.session.scalar(
                    select(func.count()).select_from(table).where(table.c[owner] == subject_id)
                )
                or 0
            )
            if count:
                records[collection.name] = int(count)
        state = self.consent.state(subject_id)
        consent = {
            purpose: {"status": str(entry.status), "at": entry.at, "source": entry.source}
            for purpose, entry in sorted(state.purposes.items())
        }
        match = DsrRequest.subject_id == subject_id
        if email_index is not None:
            match = or_(match, DsrRequest.email_bidx == email_index)
        requests = list(
            self.session.scalars(
                select(DsrRequest).where(match).order_by(DsrRequest.received_at.desc())
            )
        )
        open_statuses = {str(s) for s in OPEN_STATUSES}
        return SubjectSummary(
            subject_id=subject_id,
            records=records,
            consent=consent,
            restricted=state.restricted,
            open_requests=[r for r in requests if r.status in open_statuses],
            past_requests=[r for r in requests if r.status not in open_statuses],
            matches_erased_subject=bool(
                returned_subjects(
                    self.session, self.datamap, self.runtime.tables, subject_id=subject_id
                )
            ),
        )
