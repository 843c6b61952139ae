"""Length-prefixed JSON messages over a Unix socket, optionally carrying file descriptors.

The engine talks to its worker processes with these (see engine/isolation.py): one message is
a 4-byte big-endian length and that many bytes of UTF-8 JSON; descriptors travel as
SCM_RIGHTS ancillary data on the first chunk.
"""
import array
import json
import socket
import struct
from typing import Any, List, Optional, Tuple

HEADER = struct.Struct("!I")
MAX_FDS = 8
MAX_MESSAGE = 256 * 1024 * 1024


class ChannelClosed(EOFError):
    """The other end closed the socket (or died)."""


class Channel(object):
    """Send and receive JSON messages on a connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, message: Any, fds: Tuple[int, ...] = ()) -> None:
        data = json.dumps(message, default=str).encode("utf-8")
        payload = HEADER.pack(len(data)) + data
        try:
            if fds:
                ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                sent = self.sock.sendmsg([payload], ancillary)
                payload = payload[sent:]
            if payload:
                self.sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError) as error:
            raise ChannelClosed(str(error)) from error

    def recv(self, timeout: Optional[float] = None) -> Any:
        """The next message; raises socket.timeout after `timeout` seconds, ChannelClosed."""
        message, _ = self._recv(timeout, False)
        return message

    def recv_with_fds(self, timeout: Optional[float] = None) -> Tuple[Any, List[int]]:
        """The next message and the descriptors that came with it."""
        return self._recv(timeout, True)

    def _recv(self, timeout: Optional[float], with_fds: bool) -> Tuple[Any, List[int]]:
        self.sock.settimeout(timeout)
        fds: List[int] = []
        header = b""
        while len(header) < HEADER.size:
            chunk, fds_now = self._recv_some(HEADER.size - len(header), with_fds)
            header += chunk
            fds.extend(fds_now)
        (size,) = HEADER.unpack(header)
        if size > MAX_MESSAGE:
            raise ChannelClosed("message of %d bytes refused" % size)
        body = bytearray()
        while len(body) < size:
            chunk = self.sock.recv(min(size - len(body), 1 << 20))
            if not chunk:
                raise ChannelClosed("connection closed mid-message")
            body.extend(chunk)
        return json.loads(body.decode("utf-8")), fds

    def _recv_some(self, size: int, with_fds: bool) -> Tuple[bytes, List[int]]:
        try:
            if with_fds:  # (eventlet's green sockets have no recvmsg: only the worker uses it)
                data, ancdata, _flags, _addr = self.sock.recvmsg(
                    size, socket.CMSG_LEN(MAX_FDS * array.array("i").itemsize))
            else:
                data, ancdata = self.sock.recv(size), []
        except ConnectionResetError as error:
            raise ChannelClosed(str(error)) from error
        if not data:
            raise ChannelClosed("connection closed")
        fds: List[int] = []
        for level, kind, blob in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(blob[:len(blob) - len(blob) % received.itemsize])
                fds.extend(received)
        return data, fds

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
