"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts.

The product's workers send email notifications to it over SMTP, as to an operator's
relay (EMAIL_HOST, EMAIL_PORT).
"""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO: quiet unless something goes wrong.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """`with Mailbox() as box:` an SMTP server on 127.0.0.1:`box.port`; `box.messages`."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.messages: list[EmailMessage] = []
        self._cond = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def wait_for(self, to: str, *, timeout: float) -> list[EmailMessage]:
        """Wait until a message to `to` came; return every message to it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages if to in str(m.get("To", ""))]
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no message to {to} within {timeout:g}s; got "
                        f"{[(m['To'], m['Subject']) for m in self.messages]}"
                    )
                self._cond.wait(left)

    def to(self, address: str) -> list[EmailMessage]:
        with self._cond:
            return [m for m in self.messages if address in str(m.get("To", ""))]
