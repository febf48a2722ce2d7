"""A unix-socket JSON-RPC 2.0 server framed the way lightningd frames it.

Requests arrive as bare JSON objects one after another (pyln-client sends no delimiter);
each response is one JSON object followed by a blank line ("\\n\\n"). Every request runs
in its own task, so a blocking `waitinvoice` never holds up another request.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from lnsim import errors
from lnsim.errors import MethodError

Dispatch = Callable[[str, Any], Awaitable[Any]]
MAX_REQUEST_BYTES = 4 * 1024 * 1024
_log = structlog.get_logger("lnsim.rpc")


def apply_filter(value: Any, spec: Any) -> Any:
    """Core Lightning's reply filter: keep only the members named in `spec`."""
    if isinstance(spec, dict) and isinstance(value, dict):
        return {k: apply_filter(value[k], sub) for k, sub in spec.items() if k in value}
    if isinstance(spec, list) and spec and isinstance(value, list):
        return [apply_filter(v, spec[0]) for v in value]
    return value


def _incomplete(exc: json.JSONDecodeError, buf: str) -> bool:
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(buf)


class RpcServer:
    def __init__(self, path: Path, dispatch: Dispatch) -> None:
        self.path = path
        self._dispatch = dispatch
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listening = False

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._listening = True
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path))

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Called as the connection is made, so `close` drops it even if its reader task
        never gets to run (a task cancelled before its first step runs none of its
        `finally`: the socket would stay open and a client blocked on it with it). One
        that completes after `stop_listening` (the loop finishes accepts already under
        way) is closed at once."""
        if not self._listening:
            writer.close()
            return
        self._writers.add(writer)
        self._track(asyncio.get_running_loop().create_task(self._on_client(reader, writer)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop_listening(self) -> None:
        """New connections are refused (the socket file stays); open ones are dropped."""
        self._listening = False
        if self._server is not None:
            self._server.close()
            self._server = None
        asyncio.get_running_loop().call_soon(self._drop_connections)

    def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()

    async def close(self) -> None:
        """Stop, and return once every client's socket is closed (as lightningd's exit
        closes them): a client waiting for an answer then reads the end of the stream."""
        writers = list(self._writers)
        self.stop_listening()
        self._drop_connections()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")()
        buf = ""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                try:
                    buf += decoder.decode(chunk)
                except UnicodeDecodeError:
                    self._send_error(writer, None, errors.INVALID_REQUEST, "Request is not UTF-8")
                    break
                buf, ok = self._consume(buf, writer)
                if not ok:
                    break
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _consume(self, buf: str, writer: asyncio.StreamWriter) -> tuple[str, bool]:
        """Start a task for each complete request in `buf`; return the rest, and False
        when the stream is unusable (a reply was sent and the connection must close)."""
        json_decoder = json.JSONDecoder()
        while True:
            buf = buf.lstrip()
            if not buf:
                return buf, True
            try:
                obj, end = json_decoder.raw_decode(buf)
            except json.JSONDecodeError as exc:
                if _incomplete(exc, buf) and len(buf) < MAX_REQUEST_BYTES:
                    return buf, True
                self._send_error(writer, None, errors.INVALID_REQUEST,
                                 f"Invalid token in json input: {exc.msg} at {exc.pos}")
                return "", False
            buf = buf[end:]
            self._track(asyncio.create_task(self._handle(obj, writer)))

    async def _handle(self, request: Any, writer: asyncio.StreamWriter) -> None:
        if not isinstance(request, dict):
            self._send_error(writer, None, errors.INVALID_REQUEST, "Expected a JSON object")
            return
        req_id = request.get("id")
        method = request.get("method")
        if req_id is None or not isinstance(method, str):
            self._send_error(writer, req_id, errors.INVALID_REQUEST,
                             "Expected an object with 'id' and a string 'method'")
            return
        try:
            result = await self._dispatch(method, request.get("params"))
        except MethodError as failure:
            self._write(writer, {"jsonrpc": "2.0", "id": req_id, "error": failure.to_json()})
        except Exception as exc:  # noqa: BLE001 - a request's top level: a bug answers -1, never kills the server
            _log.exception("lnsim_handler_crashed", method=method)
            self._send_error(writer, req_id, errors.LIGHTNINGD, f"internal error: {exc!r}")
        else:
            filt = request.get("filter")
            if filt is not None:
                result = apply_filter(result, filt)
            self._write(writer, {"jsonrpc": "2.0", "id": req_id, "result": result})
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    def _send_error(self, writer: asyncio.StreamWriter, req_id: Any, code: int, msg: str) -> None:
        self._write(writer, {"jsonrpc": "2.0", "id": req_id,
                             "error": {"code": code, "message": msg}})

    @staticmethod
    def _write(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
        if not writer.is_closing():
            writer.write(json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")
