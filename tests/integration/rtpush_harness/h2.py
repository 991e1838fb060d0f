"""HTTP/2 by hand: frames, a literal HPACK header, a TLS connection that
yields the server's frames, and a HEADERS frame's :status.
"""
import socket
import ssl
import struct


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """A header as HPACK's literal without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def h2_frames(port, cafile, first=b""):
    """An HTTP/2 connection over TLS (ALPN h2), preface, empty SETTINGS and
    `first` (frames to send at once) sent: yields (socket, kind, flags, stream, payload) for each frame the
    server sends, the socket to answer on. Frames are read whole; the
    connection closes when the caller stops iterating."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2"])
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                         server_hostname="127.0.0.1") as s:
        assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0) + first)
        buf = b""
        while True:
            while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
                chunk = s.recv(65536)
                assert chunk, "closed before the stream was answered"
                buf += chunk
            n = int.from_bytes(buf[:3], "big")
            kind, flags, stream, body = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]
            buf = buf[9 + n:]
            yield s, kind, flags, stream, body


def h2_status(headers_payload):
    """:status of a HEADERS frame's payload (lws answers with literal
    headers, no Huffman)."""
    i = headers_payload.index(b":status") + len(b":status")
    return int(headers_payload[i + 1:i + 1 + headers_payload[i]])
