"""Email templates (Jinja2): `<name>.txt.j2` and `<name>.html.j2`, with the subject in SUBJECTS."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from sump.kit.email.mailers import Email
from sump.kit.schemas import UNSEEN

if TYPE_CHECKING:
    from jinja2 import Environment

SUBJECTS = {
    "password_reset": "Reset your password",
    "password_changed": "Your password was changed",
    "email_changed": "Your email address was changed",
    "phone_changed": "Your phone number was changed",
    "factors_reset": "Your second factors were reset",
    "proven_by_link": "Your sign-in link secured your account",
    "factor_added": "A second factor was added to your account",
    "factor_removed": "A second factor was removed from your account",
    "verify_email": "Verify your email address",
    "confirm_email_change": "Confirm your new email address",
    "email_change_requested": "Your email address is about to change",
    "tenant_invitation": "You are invited to join a tenant",
    "console_invitation": "You are invited to the Sump console",
    "organization_invitation": "You are invited to join an organization",
    "end_user_invitation": "Your account is ready: choose a password",
    "magic_link": "Your sign-in link",
}


@cache
def _environment() -> Environment:
    # Jinja2 and the templates are loaded with the first email, not by every worker at start.
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("sump.kit.email", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _one_line(text: str) -> str:
    return " ".join(UNSEEN.sub("", text).split())


def render(template: str, to: str, **context: Any) -> Email:
    """The email; each text put in it (names an account, inviter or organization chose) is shown on one line and
    as it reads (`UNSEEN` characters dropped, in a name stored before they were refused), so that none writes
    lines of its own, or turns the sentence around, in a message sent in Sump's name."""
    environment = _environment()
    context = {key: _one_line(value) if isinstance(value, str) else value for key, value in context.items()}
    return Email(
        to=to,
        subject=SUBJECTS[template],
        text=environment.get_template(f"{template}.txt.j2").render(**context),
        html=environment.get_template(f"{template}.html.j2").render(**context),
    )
