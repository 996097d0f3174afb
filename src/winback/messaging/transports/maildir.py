"""A maildir sink: every message becomes a file in PATH/new, written durably (tmp → fsync → rename).

What lands here has been delivered as surely as an SMTP server's `250`: a crash after the rename and before the
engine records the outcome is the lost-reply window, so the message can appear twice, with the same Message-ID.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from itertools import count
from pathlib import Path

from winback.messaging.transports.base import Delivery, Outbound


class MaildirTransport:
    name = "maildir"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)
        for sub in ("tmp", "new", "cur"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")
        self._seq = count()

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        results = []
        for message in messages:
            try:
                self._write(message)
            except OSError as exc:
                results.append(Delivery("soft_failed", f"maildir write failed: {exc.strerror or exc}"))
            else:
                results.append(Delivery("sent"))
        if messages:
            fd = os.open(self.root / "new", os.O_RDONLY)
            try:
                os.fsync(fd)  # the renames themselves are durable before the engine records "sent"
            finally:
                os.close(fd)
        return results

    def _write(self, message: Outbound) -> None:
        name = f"{time.time_ns()}.P{os.getpid()}Q{next(self._seq)}.{self._host}"
        tmp = self.root / "tmp" / name
        with open(tmp, "wb") as fh:
            fh.write(message.payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, self.root / "new" / name)

    def close(self) -> None:
        pass


def read_maildir(path: str | os.PathLike[str]) -> list[bytes]:
    """Every delivered message's bytes (new and cur), oldest first."""
    root = Path(path)
    files = sorted([*(root / "new").glob("*"), *(root / "cur").glob("*")], key=lambda p: p.name)
    return [p.read_bytes() for p in files]
