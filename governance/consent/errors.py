from governance.errors import Conflict, Forbidden, NotFound, ValidationFailed


class UnknownSubject(NotFound):
    type = "unknown-subject"

    def __init__(self) -> None:
        super().__init__("no such data subject")


class UnknownPurpose(ValidationFailed):
    type = "unknown-purpose"


class InvalidConsentEvent(ValidationFailed):
    type = "invalid-consent-event"


class ConsentNotApplicable(ValidationFailed):
    """A grant or withdrawal for a purpose that does not rest on consent."""

    type = "consent-not-applicable"


class ObjectionNotApplicable(ValidationFailed):
    """An objection to a purpose an objection cannot stop (Art. 21 does not apply)."""

    type = "objection-not-applicable"


class NotObjected(Conflict):
    type = "not-objected"


class NotRestricted(Conflict):
    type = "not-restricted"


class ConsentChangeForbidden(Forbidden):
    """An application tried to make processing less restrictive than it may."""

    type = "consent-change-forbidden"
