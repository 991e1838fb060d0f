"""WebSocket by hand, byte for byte on the wire: what libraries won't do
(stay silent, stop reading, show RSV1 and the exact close frame), and an
upgrade request whose refusal is read as it is sent.
"""
import base64
import json
import os
import socket
import ssl
import struct
import time


class RawWebSocket:
    """A hand-made client for what libraries won't do: stay silent (no pong),
    stop reading, see the exact close frame, the 101 answer's headers and
    each frame's RSV1 bit."""

    def __init__(self, port, ssl_context=None, extensions=None, subprotocol="rtpush-json"):
        """`ssl_context`: speak TLS (a tls=True Server's `ssl_context`);
        `extensions`: a Sec-WebSocket-Extensions offer to send; `subprotocol`:
        the one asked for."""
        self.sock = socket.create_connection(("127.0.0.1", port))
        if ssl_context:
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: %s\r\n" % extensions if extensions else ""
        self.sock.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: %s\r\n%s\r\n" % (key, subprotocol, ext)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during handshake"
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert " 101 " in lines[0], head
        self.headers = {}  # the 101 answer's, names lower-case
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    @staticmethod
    def frame(payload, opcode=1, rsv1=False):
        """One whole masked frame of `payload` (bytes), as a client sends it."""
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def send_text(self, text):
        self.sock.sendall(self.frame(text.encode()))

    def next_wire_frame(self, timeout=5):
        """The next whole frame as (its first byte: FIN, RSV bits, opcode;
        payload); what follows stays buffered."""
        self.sock.settimeout(timeout)
        while True:
            data = self.buf
            if len(data) >= 2:
                n, h = data[1] & 127, 2
                if n == 126 and len(data) >= 4:
                    n, h = struct.unpack(">H", data[2:4])[0], 4
                elif n == 127 and len(data) >= 10:
                    n, h = struct.unpack(">Q", data[2:10])[0], 10
                if (n < 126 or h > 2) and len(data) >= h + n:
                    self.buf = data[h + n:]
                    return data[0], data[h:h + n]
            chunk = self.sock.recv(1 << 16)
            assert chunk, "closed by the server"
            self.buf += chunk

    def next_frame(self, timeout=5):
        """The next whole frame (opcode, payload); what follows stays buffered."""
        first, payload = self.next_wire_frame(timeout)
        return first & 15, payload

    def wait_for(self, wanted, timeout=5):
        """Reads text frames until one of type `wanted` (others are skipped:
        connection_established comes first); returns it as a dict."""
        deadline = time.time() + timeout
        while True:
            op, payload = self.next_frame(max(0.01, deadline - time.time()))
            if op == 1:
                frame = json.loads(payload)
                if frame["type"] == wanted:
                    return frame

    def read_all(self, timeout):
        """Reads until the server closes; returns [(opcode, payload)]."""
        self.sock.settimeout(timeout)
        data = self.buf
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError, ssl.SSLError):  # TLS: a close without close_notify
            pass
        frames = []
        while len(data) >= 2:
            op, n, h = data[0] & 15, data[1] & 127, 2
            if n == 126:
                n, h = struct.unpack(">H", data[2:4])[0], 4
            elif n == 127:
                n, h = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < h + n:
                break
            frames.append((op, data[h:h + n]))
            data = data[h + n:]
        return frames

    @staticmethod
    def close_code(frames):
        codes = [struct.unpack(">H", p[:2])[0] for op, p in frames if op == 8 and len(p) >= 2]
        return codes[0] if codes else None

    def close(self):
        self.sock.close()


def upgrade_status(port, query="", headers=None, protocol="rtpush-json", timeout=5):
    """A WebSocket upgrade by hand (GET /<query>): (status code, head text,
    body bytes received with it). `headers`: extra ones (Origin)."""
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    request = ("GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n%s\r\n"
               % (query, port, key, protocol, extra))
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b""
    try:
        s.sendall(request.encode())
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        if status != 101:  # the refusal's body, as far as it is sent now
            try:
                s.settimeout(0.5)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except (socket.timeout, ConnectionResetError):
                pass
        return status, head.decode(errors="replace"), body
    finally:
        s.close()
