"""A real SMTP server (aiosmtpd) for tests that read the emails Sump sends."""

from __future__ import annotations

import email
import re
import threading
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import free_port

VERIFY_SUBJECT = "Verify your email address"
LINK = re.compile(r"http://sump\.test(?:/console)?/reset-password\?(tenant|environment)=([0-9a-f-]+)&token=([\w-]+)")
# End users reset on their environment's hosted page.
HOSTED_LINK = re.compile(r"http://sump\.test/api/v1/environments/([0-9a-f-]+)/hosted/reset-password\?token=([\w-]+)")


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        with self._arrived:
            self.messages.append(email.message_from_bytes(envelope.content, policy=default))
            self._arrived.notify_all()
        return "250 OK"

    def wait_for(
        self, address: str, count: int = 1, timeout: float = 15, *, verification: bool = False
    ) -> EmailMessage:
        """The `count`-th message to `address`, waiting (from another thread) until it arrives."""
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: len(self.to(address, verification=verification)) >= count, timeout=timeout
            ):
                raise AssertionError(f"no email number {count} to {address} within {timeout} s")
            return self.to(address, verification=verification)[count - 1]

    def to(self, address: str, *, verification: bool = False) -> list[EmailMessage]:
        """What `address` received; the links that verify an email (which every sign-up sends by default) are
        left out unless `verification` (tests/links reads them)."""
        return [
            message
            for message in self.messages
            if message["To"] == address and (verification or message["Subject"] != VERIFY_SUBJECT)
        ]


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def reset_token(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = LINK.search(body.get_content())
    if match is not None:
        return match.group(3)
    hosted = HOSTED_LINK.search(body.get_content())
    assert hosted is not None, body.get_content()
    return hosted.group(2)
