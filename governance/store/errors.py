from collections.abc import Sequence

from governance.errors import NotFound, ValidationFailed, shown_name


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
