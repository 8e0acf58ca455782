"""User management (admins): list, create with a one-time password shown once, change a
role, disable or enable, unlock, reset a password. Each change ends the user's sessions
where it must (``governance.users.services``) and is audited with the admin as the actor."""

from __future__ import annotations

from flask import Blueprint, g, render_template, request

from api.console.access import page, users
from api.console.forms import ActionForm, RoleForm, UserCreateForm, show_errors
from governance.audit_actions import AuditAction
from governance.authz import Permission
from governance.users.errors import InvalidUser, UserNameTaken

MANAGE = Permission.USERS_MANAGE


def _listing(
    create: UserCreateForm | None = None, *, shown: tuple[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    everyone = users().list()
    return render_template(
        "console/users.html",
        users=everyone,
        create=create or UserCreateForm(formdata=None),
        action=ActionForm(),
        role_forms={u.id: RoleForm(formdata=None, role=u.role) for u in everyone},
        shown=shown,
    ), status


def listing() -> tuple[str, int]:
    return _listing()


def create() -> tuple[str, int]:
    form = UserCreateForm()
    if not form.validate():
        return _listing(form, status=422)
    try:
        created = users().create(form.name.data or "", form.role.data or "")
    except InvalidUser as invalid:
        show_errors(form, invalid.extra.get("errors", {}))
        return _listing(form, status=422)
    except UserNameTaken:
        form.name.errors = ["a user of this name exists"]
        return _listing(form, status=409)
    g.audited = True
    return _listing(shown=(created.user.name, created.one_time_password or ""), status=201)


def set_role(user_id: str) -> tuple[str, int]:
    form = RoleForm()
    users().set_role(user_id, form.role.data or "")
    g.audited = True
    return _listing()


def set_disabled(user_id: str) -> tuple[str, int]:
    users().set_disabled(user_id, request.form.get("disabled") == "1")
    g.audited = True
    return _listing()


def unlock(user_id: str) -> tuple[str, int]:
    users().unlock(user_id)
    g.audited = True
    return _listing()


def reset(user_id: str) -> tuple[str, int]:
    password = users().reset_password(user_id)
    g.audited = True
    return _listing(shown=(users().get(user_id).name, password))


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/users", "users", page(MANAGE, AuditAction.USER_LISTED)(listing))
    blp.add_url_rule(
        "/users", "user_create", page(MANAGE, AuditAction.USER_CREATED)(create), methods=["POST"]
    )
    blp.add_url_rule(
        "/users/<user_id>/role",
        "user_role",
        page(MANAGE, AuditAction.USER_UPDATED)(set_role),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/users/<user_id>/disabled",
        "user_disabled",
        page(MANAGE, AuditAction.USER_UPDATED)(set_disabled),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/users/<user_id>/unlock",
        "user_unlock",
        page(MANAGE, AuditAction.USER_UNLOCKED)(unlock),
        methods=["POST"],
    )
    blp.add_url_rule(
        "/users/<user_id>/reset",
        "user_reset",
        page(MANAGE, AuditAction.USER_PASSWORD_RESET)(reset),
        methods=["POST"],
    )
