#!/usr/bin/python3
"""Bytes on the wire and server CPU per delivery of a fan-out, with or
without permessage-deflate (bench/compression.sh runs it against rtpush and
Nchan). N raw WebSocket clients (asyncio, no inflating: the frames are
counted and their bytes summed as they arrive), one HTTP publisher sending
M messages one after another, each once every client has the one before.
Server CPU (utime + stime) and client bytes are counted from the first
publish to the last delivery; the server's processes are given as pids.

  ws_wire.py --port P --path / --connections N --messages M --publish /publish/ch
             [--subprotocol rtpush-json --subscribe '{...}' --ready subscribed]
             [--deflate] [--payload-bytes 1024] --pids PID[,PID...]
Prints key=value lines.
"""
import argparse
import asyncio
import base64
import http.client
import json
import os
import random
import struct
import time


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total


def message_body(i, size, rng):
    """A JSON object of about `size` bytes, as a price feed would publish:
    the same keys, varying numbers and ids (compresses like real data, not
    like repeated text)."""
    items, n = [], 40
    while n < size:
        item = {"sku": "SKU-%05d" % rng.randrange(100000), "bid": round(rng.uniform(1, 500), 2),
                "ask": round(rng.uniform(1, 500), 2), "qty": rng.randrange(1, 10000), "venue": rng.choice(
                    ["XNAS", "XNYS", "BATS", "ARCX", "EDGX"])}
        items.append(item)
        n += len(json.dumps(item)) + 2
    return json.dumps({"seq": i, "ts": time.time(), "items": items})


class Receiver:
    def __init__(self, args, stats):
        self.args, self.stats = args, stats
        self.ready = asyncio.get_running_loop().create_future()

    async def run(self):
        a = self.args
        reader, writer = await asyncio.open_connection("127.0.0.1", a.port)
        self.writer = writer
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (a.path, a.port, key))
        if a.subprotocol:
            req += "Sec-WebSocket-Protocol: %s\r\n" % a.subprotocol
        if a.deflate:
            req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        writer.write((req + "\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("no upgrade: %r" % head[:200])
        self.stats["negotiated"] += b"permessage-deflate" in head.lower()
        if a.subscribe:
            payload, mask = a.subscribe.encode(), os.urandom(4)
            frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
                b ^ mask[i % 4] for i, b in enumerate(payload))
            writer.write(frame)
        else:
            self.ready.set_result(True)
        buf = b""
        ready_mark = a.ready.encode() if a.ready else None
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                return
            if self.stats["counting"]:
                self.stats["bytes"] += len(chunk)
            buf += chunk
            while len(buf) >= 2:
                n, h = buf[1] & 127, 2
                if n == 126:
                    if len(buf) < 4:
                        break
                    n, h = struct.unpack(">H", buf[2:4])[0], 4
                elif n == 127:
                    if len(buf) < 10:
                        break
                    n, h = struct.unpack(">Q", buf[2:10])[0], 10
                if len(buf) < h + n:
                    break
                b0 = buf[0]
                body = buf[h:h + n]
                buf = buf[h + n:]
                if b0 & 0x08:  # a control frame (ping): not a delivery
                    continue
                if not self.ready.done():
                    if ready_mark in body:
                        self.ready.set_result(True)
                    continue
                if b0 & 0x80:
                    self.stats["delivered"] += 1
                    self.stats["compressed"] += bool(b0 & 0x40)
                    self.stats["progress"].set()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/")
    p.add_argument("--subprotocol")
    p.add_argument("--subscribe")
    p.add_argument("--ready")
    p.add_argument("--deflate", action="store_true")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--messages", type=int, default=200)
    p.add_argument("--payload-bytes", type=int, default=1024)
    p.add_argument("--publish", required=True)
    p.add_argument("--pids", required=True)
    a = p.parse_args()
    pids = [int(x) for x in a.pids.split(",") if x]
    stats = {"negotiated": 0, "delivered": 0, "compressed": 0, "bytes": 0, "counting": False,
             "progress": asyncio.Event()}
    receivers = [Receiver(a, stats) for _ in range(a.connections)]
    tasks = []
    for r in receivers:  # in batches: the listen backlog
        tasks.append(asyncio.create_task(r.run()))
        if len(tasks) % 200 == 0:
            await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*(r.ready for r in receivers)), 60)
    await asyncio.sleep(0.5)  # Nchan has no subscribed answer: let the last subscribers settle
    rng = random.Random(7)
    bodies = [message_body(i, a.payload_bytes, rng) for i in range(a.messages)]
    conn = http.client.HTTPConnection("127.0.0.1", a.port)
    loop = asyncio.get_running_loop()

    def post(body):
        conn.request("POST", a.publish, body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status >= 300:
            raise RuntimeError("publish: %d" % r.status)

    stats["counting"] = True
    c0, t0 = cpu_ticks(pids), time.time()
    for i, body in enumerate(bodies):
        await loop.run_in_executor(None, post, body)
        want = (i + 1) * a.connections
        deadline = time.time() + 30
        while stats["delivered"] < want and time.time() < deadline:
            stats["progress"].clear()
            try:
                await asyncio.wait_for(stats["progress"].wait(), 1)
            except asyncio.TimeoutError:
                pass
    c1, t1 = cpu_ticks(pids), time.time()
    d = max(stats["delivered"], 1)
    print("connections=%d negotiated=%d messages=%d payload_bytes=%d" % (
        a.connections, stats["negotiated"], a.messages, sum(len(b) for b in bodies) // len(bodies)))
    print("delivered=%d expected=%d compressed_frames=%d" % (
        stats["delivered"], a.messages * a.connections, stats["compressed"]))
    print("wire_bytes_per_delivery=%.1f server_cpu_us_per_delivery=%.2f elapsed=%.2f" % (
        stats["bytes"] / d, (c1 - c0) / os.sysconf("SC_CLK_TCK") * 1e6 / d, t1 - t0))
    for t in tasks:
        t.cancel()
    for r in receivers:
        if hasattr(r, "writer"):
            r.writer.close()


if __name__ == "__main__":
    asyncio.run(main())
