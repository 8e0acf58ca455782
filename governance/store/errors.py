from collections.abc import Sequence

from governance.errors import Conflict, NotFound, ValidationFailed, shown_name


class UnknownCollection(NotFound):
    type = "unknown-collection"


class UnknownFields(ValidationFailed):
    """Field names the data map does not declare (names only; they are not values)."""

    type = "unknown-fields"

    def __init__(self, collection: str, names: Sequence[str]) -> None:
        shown = [shown_name(n) for n in names[:20]]
        super().__init__(
            f"the data map declares no such field in {collection}",
            {n: ["not declared in the data map"] for n in shown},
        )


class RecordNotFound(NotFound):
    type = "record-not-found"

    def __init__(self, collection: str) -> None:
        super().__init__(f"no such record in {collection}")


class InvalidRecord(ValidationFailed):
    type = "invalid-record"


class DuplicateIdentity(Conflict):
    """A write would give a second record of the collection the value of an identity field
    (what a data-subject request is taken in by), so a request by that value could run on
    the wrong person. Names the field, never the value."""

    type = "duplicate-identity"

    def __init__(self, collection: str, field: str) -> None:
        super().__init__(
            f"another record of {collection} has the same {field}; {field} identifies a data "
            "subject and must be unique",
            extra={"errors": {field: ["is already used by another record"]}},
        )
