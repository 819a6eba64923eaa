"""A software WebAuthn authenticator for what Chromium's virtual one will not do: an assertion or registration
without user presence, a chosen user handle or sign count. One P-256 passkey, attestation `none`, real
signatures over real client data, so no layer of Sump is mocked."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from tests.factors.authenticator import ORIGIN

UP, UV, AT = 0x01, 0x04, 0x40  # authenticator data flags: user present, user verified, attested credential


@dataclass
class SoftKey:
    """One passkey: `create` answers registration options, `get` request options."""

    rp_id: str = "localhost"
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    count: int = 0
    user_handle: bytes | None = None

    def create(self, public_key: dict[str, Any], origin: str = ORIGIN, flags: int = UP | UV | AT) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        cid = self.credential_id
        data = self._rp_hash() + bytes([flags]) + self.count.to_bytes(4, "big") + bytes(16)
        data += len(cid).to_bytes(2, "big") + cid + cose
        self.user_handle = base64url_to_bytes(public_key["user"]["id"])
        client_data = {"type": "webauthn.create", "challenge": public_key["challenge"], "origin": origin}
        encoded = bytes_to_base64url(cid)
        return {
            "id": encoded,
            "rawId": encoded,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(json.dumps(client_data).encode()),
                "attestationObject": bytes_to_base64url(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        public_key: dict[str, Any],
        origin: str = ORIGIN,
        flags: int = UP | UV,
        count: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        """An assertion; the sign count moves on unless `count` is given, the user handle is the registered
        one unless `user_handle` is."""
        if count is None:
            self.count += 1
            count = self.count
        data = self._rp_hash() + bytes([flags]) + count.to_bytes(4, "big")
        client_data = json.dumps({"type": "webauthn.get", "challenge": public_key["challenge"], "origin": origin})
        signed = data + hashlib.sha256(client_data.encode()).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        encoded = bytes_to_base64url(self.credential_id)
        handle = user_handle if user_handle is not None else self.user_handle
        return {
            "id": encoded,
            "rawId": encoded,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data.encode()),
                "authenticatorData": bytes_to_base64url(data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(handle) if handle else None,
            },
            "clientExtensionResults": {},
        }

    def _rp_hash(self) -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest()
