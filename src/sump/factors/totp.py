"""TOTP (RFC 6238, SHA-1, 6 digits, 30-second steps) with pyotp: seeds, the otpauth:// URI, a QR code drawn
locally as SVG (segno), and the check of a code against the steps around now (±1). A code is accepted only
for a step after the factor's last used one, so it works once within its window."""

from __future__ import annotations

import hmac
import io
import time

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1


def now() -> float:
    """The clock of TOTP checks (tests move it)."""
    return time.time()


def new_seed() -> str:
    """160 random bits, base32 (what authenticator apps take)."""
    import pyotp  # pyotp and segno load on the first TOTP enrolment or check: most requests never need them

    return pyotp.random_base32()


def uri(seed: str, account_name: str, issuer: str) -> str:
    import pyotp

    return pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def qr_svg(text: str) -> str:
    """An SVG document of the QR code of `text`, drawn here (no image service sees the seed)."""
    import segno

    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=2)
    return buffer.getvalue().decode()


def code_at(seed: str, step: int) -> str:
    import pyotp

    return pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def current_step(at: float | None = None) -> int:
    return int((now() if at is None else at) // STEP_SECONDS)


def shaped(code: str) -> bool:
    """Six ASCII digits (`str.isdigit` alone also takes Arabic-Indic or fullwidth digits, which no TOTP code has)."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(seed: str, code: str, last_step: int | None) -> int | None:
    """The time step (now ±1) whose code is `code` and that comes after `last_step`, or None."""
    code = code.strip()
    if not shaped(code):
        return None
    current = current_step()
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(seed, step), code):
            return step
    return None
