"""Passkeys (WebAuthn) with py_webauthn: the options a browser is given and the checks of what it answers. No
database here: the challenge rows, the factors and the lockout are `sump.factors.service`'s and `enrolment`'s.

Rules, stated once:
- The relying party is the pool's: an environment's `passkeyRpId` and `passkeyOrigins`, the console's from
  `SUMP_PUBLIC_URL` (refused when that is an IP address). The origin in the signed client data must be one of
  the relying party's and the authenticator data must be for its id.
- The challenge is a factor challenge's random token (32 bytes, base64url): the server finds its row again from
  the client data the authenticator signed, so the same single-use, pool- and account-bound, five-minute rules hold.
- User verification: `preferred` when the passkey is a second factor after a password; `required` when it signs in
  alone (passwordless), so that the passkey stands for possession and a PIN or biometric.
- Sign counters: an authenticator that counts must answer a higher count each time; a count at or below the
  stored one (a cloned key) is refused. Authenticators that always answer 0 (most synced passkeys) are accepted.
- `amr`: `hwk` for a key bound to one device, `swk` for a synced (backed-up, multi-device) passkey (RFC 8176).
- Attestation is not asked for (`none`): any authenticator the user chooses is accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Literal

from sump.access.pools import Pool
from sump.config import Settings
from sump.kit.errors import Problem
from sump.kit.relying_party import RelyingParty, of_public_url

if TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

# py_webauthn (with cbor2, pyOpenSSL and pyasn1 behind it) is imported by the functions that use it, on the
# first passkey ceremony: a worker that never sees one does not carry it (about 9 MiB and 0.2 s of start-up).
UserVerification = Literal["preferred", "required"]

TIMEOUT_MS = 300_000  # the challenge's five minutes
MAX_CREDENTIALS = 20  # passkeys per account


def not_configured(message: str) -> Problem:
    return Problem(409, "passkeys_unavailable", message)


def relying_party(settings: Settings, pool: Pool) -> RelyingParty:
    """The pool's relying party: 409 `passkeys_unavailable` with the reason when there is none."""
    if pool.environment_id is None:
        found = of_public_url(settings.public_url, "Sump console")
        if isinstance(found, str):
            raise not_configured(found)
        return found
    if not pool.passkey_rp_id or not pool.passkey_origins:
        raise not_configured(
            "Passkeys are not set up for this environment: set passkeyRpId and passkeyOrigins in its settings."
        )
    return RelyingParty(pool.passkey_rp_id, pool.passkey_rp_id, pool.passkey_origins)


def invalid_passkey(reason: str) -> Problem:
    return Problem(401, "invalid_passkey", f"The passkey's answer was refused: {reason}.")


@dataclass(frozen=True)
class Stored:
    """What `factor.data` keeps of a passkey, all public: its credential id and public key (base64url), the
    last sign count, transports, and whether it is synced between devices."""

    credential_id: str
    public_key: str
    sign_count: int
    transports: list[str]
    synced: bool

    def data(self) -> dict[str, Any]:
        return {
            "credentialId": self.credential_id,
            "publicKey": self.public_key,
            "signCount": self.sign_count,
            "transports": self.transports,
            "synced": self.synced,
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> Stored:
        return cls(
            data["credentialId"], data["publicKey"], int(data["signCount"]), data.get("transports", []), data["synced"]
        )


def challenge_bytes(token: str) -> bytes:
    """The WebAuthn challenge of a factor challenge's token (the token is 32 random bytes in base64url)."""
    from webauthn.helpers import base64url_to_bytes  # on first use, see the top

    return base64url_to_bytes(token)


def challenge_token(credential: dict[str, Any]) -> str:
    """The token of the challenge the client data of `credential` answers ('' when it cannot be read)."""
    from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_client_data_json
    from webauthn.helpers.exceptions import WebAuthnException

    try:
        raw = base64url_to_bytes(credential["response"]["clientDataJSON"])
        return bytes_to_base64url(parse_client_data_json(raw).challenge)
    except (WebAuthnException, KeyError, TypeError, ValueError):
        return ""


def user_handle(account_id: bytes) -> bytes:
    return account_id


def _descriptors(stored: list[Stored]) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    descriptors = []
    for passkey in stored:
        transports = [AuthenticatorTransport(t) for t in known_transports(passkey.transports)]
        descriptors.append(
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id), transports=transports or None)
        )
    return descriptors


def registration_options(
    rp: RelyingParty, token: str, account_id: bytes, name: str, display_name: str, existing: list[Stored]
) -> dict[str, Any]:
    """`PublicKeyCredentialCreationOptions` (JSON) for a new passkey: discoverable where the authenticator can,
    user verification preferred, no attestation, the account's passkeys excluded."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle(account_id),
        user_name=name,
        user_display_name=display_name,
        challenge=challenge_bytes(token),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED
        ),
        exclude_credentials=_descriptors(existing),
    )
    return _json(options_to_json(options))


def authentication_options(
    rp: RelyingParty, token: str, allowed: list[Stored], *, user_verification: UserVerification
) -> dict[str, Any]:
    """`PublicKeyCredentialRequestOptions` (JSON); `allowed` empty lets the authenticator offer its discoverable
    passkeys of this relying party (username-less)."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge_bytes(token),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(allowed),
        user_verification=UserVerificationRequirement(user_verification),
    )
    return _json(options_to_json(options))


def _json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value


def _reason(
    credential: dict[str, Any], rp: RelyingParty, ceremony: str, stored_count: int | None, require_uv: bool = False
) -> str:
    """Why the library refused, in a sentence that names the rule (read from the same client and authenticator
    data the library checked; the library's own refusal stands either way)."""
    from webauthn.helpers import base64url_to_bytes, parse_authenticator_data, parse_client_data_json

    try:
        response = credential["response"]
        client = parse_client_data_json(base64url_to_bytes(response["clientDataJSON"]))
        if str(getattr(client.type, "value", client.type)) != ceremony:
            return "the client data is for another ceremony"
        if client.origin not in rp.origins:
            return f"the origin {client.origin} is not one of this relying party's"
        if "authenticatorData" in response:
            data = parse_authenticator_data(base64url_to_bytes(response["authenticatorData"]))
        else:
            return "the authenticator's data could not be verified"
        if data.rp_id_hash != sha256(rp.id.encode()).digest():
            return "the passkey was made for another relying party id"
        if not data.flags.up:
            return "the user was not present"
        if require_uv and not data.flags.uv:
            return "user verification (a PIN or biometric) is required to sign in with a passkey alone"
        if stored_count is not None and (data.sign_count or stored_count) and data.sign_count <= stored_count:
            return "its sign counter went backwards, as a cloned key's would"
    except Exception:
        return "it could not be read"
    return "its signature or data did not verify"


def verify_registration(rp: RelyingParty, token: str, credential: dict[str, Any]) -> Stored:
    """The new passkey's public data, or 401 `invalid_passkey` saying why."""
    from webauthn import verify_registration_response
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import CredentialDeviceType

    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge_bytes(token),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=False,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        raise invalid_passkey(_reason(credential, rp, "webauthn.create", None)) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if credential_id != credential.get("rawId"):  # so bounded as the request's `rawId` (`MAX_CREDENTIAL_ID_BYTES`)
        raise invalid_passkey("its id is not the one its authenticator data attests")
    return Stored(
        credential_id,
        bytes_to_base64url(verified.credential_public_key),
        verified.sign_count,
        known_transports(credential.get("response", {}).get("transports")),
        verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE,
    )


def known_transports(given: object) -> list[str]:
    """The transports py_webauthn names among those given, once each and sorted, as they are kept and listed: a
    rare spelling, a repeat or a client's own order would mark a passkey among the others, and tell it from a
    decoy."""
    from webauthn.helpers.structs import AuthenticatorTransport

    names = {transport.value for transport in AuthenticatorTransport}
    return sorted({t for t in given if isinstance(t, str) and t in names}) if isinstance(given, list) else []


@dataclass(frozen=True)
class Asserted:
    sign_count: int
    synced: bool
    user_verified: bool


def verify_assertion(
    rp: RelyingParty, token: str, credential: dict[str, Any], stored: Stored, *, require_user_verification: bool
) -> Asserted:
    """Checks an assertion against the stored passkey: 401 `invalid_passkey` saying why (wrong origin or relying
    party id, no user presence or verification when required, a sign counter that went backwards, a bad
    signature)."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import CredentialDeviceType

    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge_bytes(token),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=base64url_to_bytes(stored.public_key),
            credential_current_sign_count=stored.sign_count,
            require_user_verification=require_user_verification,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        reason = _reason(credential, rp, "webauthn.get", stored.sign_count, require_user_verification)
        raise invalid_passkey(reason) from None
    return Asserted(
        verified.new_sign_count,
        verified.credential_device_type is CredentialDeviceType.MULTI_DEVICE,
        verified.user_verified,
    )


def credential_id(credential: dict[str, Any]) -> str:
    value = credential.get("rawId") or credential.get("id")
    return value if isinstance(value, str) else ""


def asserted_user(credential: dict[str, Any]) -> bytes | None:
    """The user handle a discoverable passkey answered with (the account id it was made for), if any."""
    from webauthn.helpers import base64url_to_bytes

    try:
        handle = credential["response"].get("userHandle")
        return base64url_to_bytes(handle) if isinstance(handle, str) and handle else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
