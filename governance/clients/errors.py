from governance.errors import Conflict, NotFound, ValidationFailed


class ClientNameTaken(Conflict):
    type = "client-name-taken"


class ClientNotFound(NotFound):
    type = "client-not-found"


class InvalidClient(ValidationFailed):
    type = "invalid-client"
