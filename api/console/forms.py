"""The console's forms (Flask-WTF): each carries its CSRF token, and a domain error is shown
next to the field it names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from governance.requests.deadlines import ExtensionReason, Regulation, RequestType
from governance.requests.models import RequestStatus
from governance.requests.services import VERIFICATION_METHODS

CONSOLE_ROLES = [
    ("compliance_officer", "compliance officer"),
    ("auditor", "auditor"),
    ("admin", "admin"),
]


def options(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """A select's (value, label) pairs as wtforms' own choices (tuples are deprecated)."""
    return [SelectChoice(value, label) for value, label in pairs]


def _words(value: str) -> str:
    return value.replace("_", " ")


class ActionForm(FlaskForm):
    """A button that changes something: only its CSRF token."""


class LoginForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password (at least 12 characters)", validators=[DataRequired(), Length(max=256)]
    )


class UserCreateForm(FlaskForm):
    name = StringField("User name", validators=[DataRequired(), Length(max=64)])
    role = SelectField("Role", choices=options(CONSOLE_ROLES))


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=options(CONSOLE_ROLES))


class QueueFilterForm(FlaskForm):
    """The queue's filters, from the query string (a GET form: no token, it changes
    nothing)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=options(
            [
                ("open", "open"),
                ("closed", "closed"),
                ("all", "all"),
                *((s.value, _words(s.value)) for s in RequestStatus),
            ]
        ),
        default="open",
    )
    type = SelectField(
        "Type",
        choices=options([("", "any"), *((t.value, _words(t.value)) for t in RequestType)]),
        default="",
    )
    regulation = SelectField(
        "Regulation",
        choices=options([("", "any"), *((r.value, r.value.upper()) for r in Regulation)]),
        default="",
    )
    due = SelectField(
        "Due",
        choices=options(
            [("", "any time"), ("overdue", "overdue"), ("within", "within the days below")]
        ),
        default="",
    )
    days = IntegerField("Days", validators=[Optional(), NumberRange(min=0, max=366)], default=7)


class SearchForm(FlaskForm):
    """One person's requests: posted, so that an e-mail is never part of a URL."""

    q = StringField(
        "E-mail, subject id or request id", validators=[DataRequired(), Length(max=254)]
    )


class IntakeForm(FlaskForm):
    type = SelectField("Type", choices=options([(t.value, _words(t.value)) for t in RequestType]))
    regulation = SelectField(
        "Regulation", choices=options([(r.value, r.value.upper()) for r in Regulation])
    )
    email = StringField("Subject's e-mail", validators=[Optional(), Length(max=254)])
    subject_id = StringField("or subject id", validators=[Optional(), Length(max=32)])
    received_at = DateField("Received on (default: today)", validators=[Optional()])
    purposes = StringField(
        "Objection: purposes (separated by commas)", validators=[Optional(), Length(max=500)]
    )
    collection = StringField("Rectification: collection", validators=[Optional(), Length(max=64)])
    record_id = StringField(
        "Rectification: record id (not needed for the subject's own record)",
        validators=[Optional(), Length(max=32)],
    )
    corrections = TextAreaField(
        "Rectification: corrected values, one field=value a line",
        validators=[Optional(), Length(max=4000)],
    )


class VerifyForm(FlaskForm):
    method = SelectField(
        "Verified by", choices=options([(m, _words(m)) for m in VERIFICATION_METHODS])
    )


class RejectForm(FlaskForm):
    reason = TextAreaField(
        "Reason given to the subject", validators=[DataRequired(), Length(max=2000)]
    )


class ExtendForm(FlaskForm):
    reason = SelectField(
        "Ground", choices=options([(r.value, _words(r.value)) for r in ExtensionReason])
    )


def show_errors(
    form: FlaskForm, errors: Mapping[str, list[str]], *, aliases: Mapping[str, str] | None = None
) -> None:
    """Put a domain error's messages on the fields they name (the rest on the form)."""
    aliases = aliases or {}
    for name, messages in errors.items():
        field = getattr(form, aliases.get(name, name), None)
        if field is not None and hasattr(field, "errors") and name != "meta":
            field.errors = [*list(field.errors or ()), *messages]
        else:
            form.form_errors.append(f"{name}: {'; '.join(messages)}")
