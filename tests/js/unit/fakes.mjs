// Test doubles for rtpush.js: a WebSocket the test drives by hand and a
// clock that only moves when told (node 18 has no mock.timers).

export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.t + ms, fn, ms });
      return id;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
    this.now = () => this.t;
  }

  /** Delays of the timers pending now, in ms. */
  pending() {
    return [...this.timers.values()].map((t) => t.ms);
  }

  /** Moves time on by ms, firing every timer due on the way, in order. */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, t] of this.timers) if (t.at <= end && (!next || t.at < next[1].at)) next = [id, t];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

/** Lets pending promise callbacks (the client's awaits) run. */
export async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A WebSocket stand-in: records every instance; the test opens, feeds and
 * closes it. */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    constructor(url, protocol) {
      this.url = url;
      this.protocol = protocol;
      this.sent = [];
      this.closedByClient = null;
      FakeWebSocket.instances.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close(code) {
      this.closedByClient = code;
    }
    // test side
    open(timestamp = 1_700_000_000) {
      this.onopen?.({});
      this.receive({ type: "connection_established", connection_id: "c", node: "n", heartbeat_interval: 25, timestamp });
    }
    receive(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }
    serverClose(code, reason = "") {
      this.onclose?.({ code, reason });
    }
    sentOfType(type) {
      return this.sent.filter((f) => f.type === type);
    }
  }
  FakeWebSocket.instances = [];
  FakeWebSocket.last = () => FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  return FakeWebSocket;
}

/** An unsigned JWT-shaped token with these claims (the client never verifies). */
export function jwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.sig`;
}
