"""Signing in and out, changing one's password, and the home page (each role's start)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as AnyResponse  # what redirect() returns

from api.console.access import TOKEN_KEY, current_user, page, safe_next, signed_in, users
from api.console.forms import LoginForm, PasswordForm, show_errors
from api.security_headers import client_network
from governance.authz import Permission, role_allows
from governance.users.errors import InvalidUser, LoginFailed, SignInThrottled


def login() -> str | AnyResponse | tuple[str, int] | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if request.method == "GET":
        return render_template("console/login.html", form=form, next=request.args.get("next"))
    if not form.validate():
        return render_template("console/login.html", form=form), 422
    try:
        signed = users().sign_in(
            form.name.data or "",
            form.password.data or "",
            source=client_network(request.remote_addr),
        )
    except LoginFailed as failed:
        # The failed sign-in's audit event: commit it, although the answer is a 401 (which
        # also counts against this address's limit of failed authentications).
        g.session.commit()
        form.password.errors = [failed.detail]
        return render_template("console/login.html", form=form, next=request.form.get("next")), 401
    except SignInThrottled as throttled:
        g.audit_action = None  # as every 429: a refused flood is not audited
        form.password.errors = [throttled.detail]
        html = render_template("console/login.html", form=form, next=request.form.get("next"))
        return html, 429, {"Retry-After": str(throttled.retry_after)}
    session.clear()  # a fresh session (and CSRF token) for the signed-in person
    session.permanent = True
    session[TOKEN_KEY] = signed.token
    g.audited = True
    if signed.user.must_change_password:
        return redirect(url_for("console.password"))
    return redirect(safe_next(request.form.get("next")))


def logout() -> AnyResponse:
    users().sign_out(session.get(TOKEN_KEY, ""))
    session.clear()
    g.audited = True
    return redirect(url_for("console.login"))


def password() -> str | AnyResponse | tuple[str, int]:
    form = PasswordForm()
    user = current_user()
    assert user is not None
    if request.method == "POST" and form.validate():
        try:
            # every other session of the person ends; this one, just proven, stays
            users().change_password(
                user,
                form.current_password.data or "",
                form.new_password.data or "",
                keep=session.get(TOKEN_KEY),
            )
        except InvalidUser as invalid:
            show_errors(form, invalid.extra.get("errors", {}))
            return render_template("console/password.html", form=form), 422
        g.audited = True
        return redirect(url_for("console.home"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "console/password.html", form=form, must_change=user.must_change_password
    ), status


def home() -> AnyResponse:
    user = current_user()
    assert user is not None
    if role_allows(user.role_enum, Permission.REQUESTS_MANAGE):
        return redirect(url_for("console.queue"))
    if role_allows(user.role_enum, Permission.AUDIT_READ) and not role_allows(
        user.role_enum, Permission.USERS_MANAGE
    ):
        return redirect(url_for("console.audit_events"))
    return redirect(url_for("console.users"))


def register(blp: Blueprint) -> None:
    blp.add_url_rule("/login", "login", page(public=True)(login), methods=["GET", "POST"])
    blp.add_url_rule("/logout", "logout", signed_in(logout), methods=["POST"])
    blp.add_url_rule("/password", "password", signed_in(password), methods=["GET", "POST"])
    blp.add_url_rule("/", "home", signed_in(home))
