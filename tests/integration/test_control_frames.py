"""Control frames a client sends (ping, close), alone, split over many
packets and in the middle of a fragmented message, as RFC 6455 says: each
ping answered by a pong with its payload, the close answered in kind, the
messages around them intact. lws parses control frames into the
connection's receive buffer, which it holds only while a frame is parsed
into it (tools/patches/0010): this is what must still work between them."""
import json
import os
import socket
import struct
import time
import unittest

from rtpush_harness import RawWebSocket, ServerCase


def masked(first_byte, payload):
    """A frame with the given first byte (FIN, opcode) and masked payload."""
    mask = os.urandom(4)
    return bytes([first_byte, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class ClientControlFrames(ServerCase, unittest.TestCase):
    def open(self):
        ws = RawWebSocket(self.server.port)
        self.addCleanup(ws.sock.close)
        ws.wait_for("connection_established")
        return ws

    def pong(self, ws):
        """The next pong's payload (text frames before it are skipped)."""
        while True:
            op, payload = ws.next_frame()
            if op == 0xA:
                return payload

    def test_pings_answered_with_their_payload(self):
        ws = self.open()
        for payload in [b"abc", b"", bytes(range(125)), b"x" * 124]:
            ws.sock.sendall(RawWebSocket.frame(payload, opcode=9))
            self.assertEqual(self.pong(ws), payload)
            ws.send_text('{"type":"subscribe","channel":"cf-%d"}' % len(payload))
            self.assertEqual(ws.wait_for("subscribed")["channel"], "cf-%d" % len(payload))

    def test_ping_split_over_packets(self):
        ws = self.open()
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one send, one packet
        frame = RawWebSocket.frame(b"split ping", opcode=9)
        for i in range(len(frame)):
            ws.sock.sendall(frame[i:i + 1])
            time.sleep(0.005)
        self.assertEqual(self.pong(ws), b"split ping")
        ws.send_text('{"type":"subscribe","channel":"cf-split"}')
        self.assertEqual(ws.wait_for("subscribed")["channel"], "cf-split")

    def test_ping_inside_a_fragmented_message(self):
        ws = self.open()
        text = json.dumps({"type": "subscribe", "channel": "cf-fragmented"}).encode()
        ws.sock.sendall(masked(0x01, text[:10]))  # text, not final
        ws.sock.sendall(masked(0x89, b"between"))  # ping
        self.assertEqual(self.pong(ws), b"between")
        ws.sock.sendall(masked(0x00, text[10:20]))  # continuation
        ws.sock.sendall(masked(0x80, text[20:]))  # final continuation
        self.assertEqual(ws.wait_for("subscribed")["channel"], "cf-fragmented")

    def test_close_answered_with_its_code(self):
        ws = self.open()
        ws.sock.sendall(RawWebSocket.frame(b"x", opcode=9))
        self.assertEqual(self.pong(ws), b"x")
        ws.sock.sendall(RawWebSocket.frame(struct.pack(">H", 1000) + b"bye", opcode=8))
        frames = ws.read_all(5)
        self.assertEqual(RawWebSocket.close_code(frames), 1000)

    def test_empty_close_answered(self):
        ws = self.open()
        ws.sock.sendall(RawWebSocket.frame(b"", opcode=8))
        frames = ws.read_all(5)
        self.assertIn(8, [op for op, _ in frames])


if __name__ == "__main__":
    unittest.main()
