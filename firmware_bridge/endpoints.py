"""Where a Modbus device is: a TCP host and port, or a serial line for Modbus RTU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Parity = Literal["N", "E", "O"]


@dataclass(frozen=True, slots=True)
class TcpEndpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SerialEndpoint:
    """A Modbus RTU line: device path and framing (``9600 8N1`` is ``9600, "N", 1``)."""

    path: str
    baudrate: int = 9600
    parity: Parity = "N"
    stopbits: int = 1
    bytesize: int = 8

    def __str__(self) -> str:
        return f"{self.path}@{self.baudrate}{self.bytesize}{self.parity}{self.stopbits}"


Endpoint = TcpEndpoint | SerialEndpoint
