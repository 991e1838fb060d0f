// rtpush.js against a fake WebSocket and a fake clock: the behaviours a
// user relies on (SPEC section 10), without a server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RtpushClient, compareIds, tokenExpiry } from "../../../clients/js/rtpush.js";
import { FakeClock, fakeWebSocketClass, flush, jwt } from "./fakes.mjs";

function setup(options = {}) {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const states = [];
  const errors = [];
  const client = new RtpushClient("ws://h/", {
    WebSocket: WS, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, now: clock.now,
    random: () => 1, ...options,
  });
  client.on("state", (s, d) => states.push([s, d]));
  client.on("error", (e) => errors.push(e));
  return { clock, WS, client, states, errors };
}

test("ids compare as integer pairs, beyond 2^53 too", () => {
  assert.equal(compareIds("9-0", "10-0"), -1);
  assert.equal(compareIds("10-9", "10-10"), -1);
  assert.equal(compareIds("1700000000000-3", "1700000000000-3"), 0);
  assert.equal(compareIds("99999999999999999999-1", "99999999999999999999-0"), 1);
  assert.equal(compareIds("5", "5-0"), 0);
});

test("backoff: full jitter under min(cap, base*2^attempt), reset after a stable minute", async () => {
  const { clock, WS, client, states } = setup({ random: () => 1 });
  await flush();
  assert.equal(WS.instances.length, 1);
  assert.equal(WS.last().protocol, "rtpush-json");
  const delays = [];
  for (let i = 0; i < 8; i++) {
    WS.last().serverClose(1006);
    delays.push(...clock.pending());
    await clock.advance(clock.pending()[0]);
    assert.equal(WS.instances.length, i + 2);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
  // up for a minute: the next drop starts again from the base
  WS.last().open();
  await clock.advance(60_000);
  WS.last().serverClose(1012);
  assert.deepEqual(clock.pending(), [500]);
  assert.ok(states.some(([s]) => s === "connecting") && states.some(([s]) => s === "connected"));
  client.close();
});

test("backoff jitter uses random: delay = random * ceiling", async () => {
  const { clock, WS, client } = setup({ random: () => 0.25 });
  await flush();
  WS.last().serverClose(1006);
  assert.deepEqual(clock.pending(), [125]);
  await clock.advance(125);
  WS.last().serverClose(1006);
  assert.deepEqual(clock.pending(), [250]);
  // a drop before a minute is up does not reset
  await clock.advance(250);
  WS.last().open();
  await clock.advance(59_000);
  WS.last().serverClose(1006);
  assert.deepEqual(clock.pending(), [500]);
  client.close();
});

test("resubscribe with since = last delivered id; duplicates and older ids dropped", async () => {
  const { clock, WS, client } = setup();
  await flush();
  const got = [];
  const sub = client.subscribe("news", (m) => got.push(m.id));
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("subscribe"), [{ type: "subscribe", channel: "news" }]);
  WS.last().receive({ type: "subscribed", channel: "news", position: "5-0" });
  for (const id of ["9-0", "10-0", "10-0", "9-5", "10-1"]) WS.last().receive({ type: "message", channel: "news", id, data: id, timestamp: 1 });
  assert.deepEqual(got, ["9-0", "10-0", "10-1"]);
  WS.last().serverClose(1012, "restart");
  await clock.advance(500);
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("subscribe"), [{ type: "subscribe", channel: "news", since: "10-1" }]);
  const recovered = [];
  sub.on("recovered", (r) => recovered.push(r));
  WS.last().receive({ type: "subscribed", channel: "news", position: "12-0", recovered: true });
  WS.last().receive({ type: "message", channel: "news", id: "10-1", data: 0, timestamp: 1 });
  WS.last().receive({ type: "message", channel: "news", id: "12-0", data: 0, timestamp: 1 });
  assert.deepEqual(got, ["9-0", "10-0", "10-1", "12-0"]);
  assert.deepEqual(recovered, [true]);
  client.close();
});

test("nothing delivered yet: since = the first subscribed's position (not a later one)", async () => {
  const { clock, WS, client } = setup();
  await flush();
  client.subscribe("a", () => {});
  WS.last().open();
  WS.last().receive({ type: "subscribed", channel: "a", position: "7-2" });
  WS.last().serverClose(1006);
  await clock.advance(500);
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("subscribe"), [{ type: "subscribe", channel: "a", since: "7-2" }]);
  WS.last().receive({ type: "subscribed", channel: "a", position: "9-0", recovered: true });
  WS.last().serverClose(1006);
  await clock.advance(1000);
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("subscribe"), [{ type: "subscribe", channel: "a", since: "7-2" }]);
  client.close();
});

test("an empty channel resumes from the node's clock at connect less 1 s", async () => {
  const { clock, WS, client } = setup();
  await flush();
  client.subscribe("empty", () => {});
  WS.last().open(1_700_000_123.456);
  WS.last().receive({ type: "subscribed", channel: "empty", position: null });
  WS.last().serverClose(1006);
  await clock.advance(500);
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("subscribe"), [{ type: "subscribe", channel: "empty", since: "1700000122456-0" }]);
  client.close();
});

test("recovered:false is surfaced to every subscription of the channel", async () => {
  const { clock, WS, client } = setup();
  await flush();
  const seen = [];
  const a = client.subscribe("c", () => {});
  const b = client.subscribe("c", () => {});
  a.on("recovered", (r) => seen.push(["a", r]));
  b.on("recovered", (r) => seen.push(["b", r]));
  const confirmed = [];
  a.on("subscribed", (info) => confirmed.push(info.position));
  WS.last().open();
  assert.equal(WS.last().sentOfType("subscribe").length, 1);
  WS.last().receive({ type: "subscribed", channel: "c", position: "1-0" });
  assert.deepEqual(seen, []);
  assert.deepEqual(confirmed, ["1-0"]);
  WS.last().serverClose(1006);
  await clock.advance(500);
  WS.last().open();
  WS.last().receive({ type: "subscribed", channel: "c", position: "90-0", recovered: false });
  assert.deepEqual(seen, [["a", false], ["b", false]]);
  // the last unsubscribe sends unsubscribe; later messages are not delivered
  a.unsubscribe();
  assert.equal(WS.last().sentOfType("unsubscribe").length, 0);
  b.unsubscribe();
  assert.deepEqual(WS.last().sentOfType("unsubscribe"), [{ type: "unsubscribe", channel: "c" }]);
  client.close();
});

test("publish resolves on published and rejects on error, matched by ref", async () => {
  const { WS, client } = setup();
  await flush();
  WS.last().open();
  const p1 = client.publish("news", { n: 1 });
  const p2 = client.publish("news", { n: 2 });
  const [f1, f2] = WS.last().sentOfType("publish");
  assert.notEqual(f1.ref, f2.ref);
  assert.deepEqual(f1.data, { n: 1 });
  WS.last().receive({ type: "error", code: "FORBIDDEN", message: "no", ref: f2.ref });
  WS.last().receive({ type: "published", channel: "news", id: "3-0", ref: f1.ref });
  assert.deepEqual(await p1, { channel: "news", id: "3-0" });
  await assert.rejects(p2, (e) => e.code === "FORBIDDEN");
  client.close();
});

test("publish while not connected rejects at once; pending ones reject on a drop", async () => {
  const { clock, WS, client } = setup();
  await flush();
  await assert.rejects(client.publish("x", 1), (e) => e.code === "NOT_CONNECTED" && /not connected/.test(e.message));
  assert.equal(WS.last().sent.length, 0);
  WS.last().open();
  const p = client.publish("x", 1);
  WS.last().serverClose(1006);
  await assert.rejects(p, (e) => e.code === "CONNECTION_LOST" && /may or may not have been published/.test(e.message));
  await assert.rejects(client.publish("x", 2), (e) => e.code === "NOT_CONNECTED");
  await clock.advance(500);
  assert.equal(WS.instances.length, 2);
  client.close();
});

test("token function: called on every connect, sent in the first frame (never the URL), refreshed before exp", async () => {
  const clock0 = 1_700_000_000_000;
  let calls = 0;
  const token = async () => jwt({ sub: "42", exp: clock0 / 1000 + 120 + 60 * calls++, x: "+/=" });
  const { clock, WS, client } = setup({ token });
  client.subscribe("a", () => {});
  await flush();
  assert.equal(calls, 1);
  assert.equal(WS.last().url, "ws://h/"); // SPEC section 17: no token in the URL by default
  WS.last().open();
  // the auth frame first, so the subscribe is made as the token's user
  assert.deepEqual(WS.last().sent.map((f) => f.type), ["auth", "subscribe"]);
  assert.equal(WS.last().sent[0].token, jwt({ sub: "42", exp: clock0 / 1000 + 120, x: "+/=" }));
  // exp in 120 s, refresh 30 s before it
  assert.deepEqual(clock.pending(), [90_000]);
  await clock.advance(90_000);
  assert.equal(calls, 2);
  const auth = WS.last().sentOfType("auth").at(-1);
  assert.equal(tokenExpiry(auth.token), clock0 / 1000 + 180);
  WS.last().receive({ type: "authenticated", user: "42", expires: clock0 / 1000 + 180 });
  assert.deepEqual(clock.pending(), [60_000]); // 30 s before the new exp
  WS.last().serverClose(1006);
  assert.equal(clock.pending().length, 1); // the refresh timer went with the connection
  await clock.advance(clock.pending()[0]);
  assert.equal(calls, 3);
  assert.equal(WS.last().url, "ws://h/");
  WS.last().open();
  assert.equal(tokenExpiry(WS.last().sentOfType("auth")[0].token), clock0 / 1000 + 240);
  client.close();
});

test("tokenInUrl: the token goes URL-encoded in the query string, and no auth frame at connect", async () => {
  const token = jwt({ sub: "42", x: "+/=" });
  const { WS, client } = setup({ token, tokenInUrl: true });
  await flush();
  assert.equal(new URL(WS.last().url).searchParams.get("token"), token);
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("auth"), []);
  client.close();
});

test("no token: no auth frame", async () => {
  const { WS, client } = setup();
  await flush();
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("auth"), []);
  assert.equal(WS.last().url, "ws://h/");
  client.close();
});

test("unsubscribed with a reason: the subscriptions get FORBIDDEN and it is not resubscribed", async () => {
  const { clock, WS, client } = setup();
  const got = [];
  const sub = client.subscribe("orders:1", () => {});
  sub.on("error", (e) => got.push(e.code));
  await flush();
  WS.last().open();
  WS.last().receive({ type: "unsubscribed", channel: "orders:1", reason: "FORBIDDEN" });
  assert.deepEqual(got, ["FORBIDDEN"]);
  WS.last().serverClose(1006);
  await clock.advance(clock.pending()[0]);
  WS.last().open();
  assert.deepEqual(WS.last().sentOfType("subscribe"), []);
  client.close();
});

test("a message's user is passed on when the server set one", async () => {
  const { WS, client } = setup();
  const got = [];
  client.subscribe("c", (m) => got.push(m.user));
  await flush();
  WS.last().open();
  WS.last().receive({ type: "message", channel: "c", id: "1-0", data: 1, timestamp: 1, user: "42" });
  WS.last().receive({ type: "message", channel: "c", id: "2-0", data: 2, timestamp: 1 });
  assert.deepEqual(got, ["42", undefined]);
  client.close();
});

test("a short-lived token is refreshed halfway, not in a loop", async () => {
  const start = new FakeClock().now();
  const { clock, WS, client } = setup({ token: () => jwt({ sub: "1", exp: (start + 10_000) / 1000 }) });
  await flush();
  WS.last().open();
  assert.deepEqual(clock.pending(), [5000]);
  client.close();
});

test("close 1008 with a string token: reported, never retried", async () => {
  const { clock, WS, client, states, errors } = setup({ token: "t" });
  await flush();
  WS.last().open();
  assert.equal(WS.last().sentOfType("auth")[0].token, "t");
  WS.last().receive({ type: "error", code: "UNAUTHORIZED", message: "token expired" });
  WS.last().serverClose(1008, "token expired");
  assert.deepEqual(clock.pending(), []);
  assert.equal(client.state, "disconnected");
  assert.deepEqual(states.at(-1), ["disconnected", { code: 1008, reason: "token expired", retrying: false }]);
  assert.ok(errors.some((e) => e.code === "UNAUTHORIZED"));
  assert.ok(errors.some((e) => e.code === 1008 && e.reason === "token expired"));
  await clock.advance(600_000);
  assert.equal(WS.instances.length, 1);
});

test("close 1008 with a token function: one retry with a fresh token, then stop", async () => {
  let calls = 0;
  const { clock, WS, states } = setup({ token: async () => `t${++calls}` });
  await flush();
  WS.last().open();
  WS.last().serverClose(1008, "disconnected");
  await clock.advance(500);
  assert.equal(WS.instances.length, 2);
  WS.last().open();
  assert.equal(WS.last().sentOfType("auth")[0].token, "t2");
  WS.last().serverClose(1008, "disconnected");
  await clock.advance(600_000);
  assert.equal(WS.instances.length, 2);
  assert.deepEqual(states.at(-1)[1].retrying, false);
});

test("close 1009: reconnect once, a second 1009 stops", async () => {
  const { clock, WS } = setup();
  await flush();
  WS.last().open();
  WS.last().serverClose(1009, "too large");
  await clock.advance(500);
  assert.equal(WS.instances.length, 2);
  WS.last().open();
  WS.last().serverClose(1009, "too large");
  await clock.advance(600_000);
  assert.equal(WS.instances.length, 2);
});

test("close(): no reconnect, the socket is closed with 1000", async () => {
  const { clock, WS, client, states } = setup();
  await flush();
  WS.last().open();
  const ws = WS.last();
  client.close();
  assert.equal(ws.closedByClient, 1000);
  ws.serverClose(1000);
  await clock.advance(600_000);
  assert.equal(WS.instances.length, 1);
  assert.equal(states.at(-1)[0], "disconnected");
});

test("a subscribe while connected is sent at once; while disconnected, on connect", async () => {
  const { WS, client } = setup();
  await flush();
  client.subscribe("early", () => {});
  assert.equal(WS.last().sent.length, 0);
  WS.last().open();
  client.subscribe("late", () => {});
  assert.deepEqual(WS.last().sentOfType("subscribe").map((f) => f.channel), ["early", "late"]);
  client.close();
});

test("a throwing callback does not stop delivery to the others, nor the client", async () => {
  const thrown = [];
  const { WS, client } = setup({ reportError: (e) => thrown.push(e.message) });
  await flush();
  const got = [];
  client.subscribe("c", () => {
    throw new Error("app bug");
  });
  client.subscribe("c", (m) => got.push(m.id));
  client.on("state", () => {
    throw new Error("listener bug");
  });
  WS.last().open();
  WS.last().receive({ type: "subscribed", channel: "c", position: null });
  WS.last().receive({ type: "message", channel: "c", id: "1-0", data: 1, timestamp: 1 });
  WS.last().receive({ type: "message", channel: "c", id: "2-0", data: 2, timestamp: 1 });
  assert.deepEqual(got, ["1-0", "2-0"]);
  assert.deepEqual(thrown, ["listener bug", "app bug", "app bug"]); // reported, not swallowed
  client.close();
});

test("close() while the token function is pending: no connection is made", async () => {
  let release;
  const { WS, client } = setup({ token: () => new Promise((r) => (release = r)) });
  await flush();
  client.close();
  release("t");
  await flush();
  assert.equal(WS.instances.length, 0);
});

test("a failing token function is reported and retried with backoff", async () => {
  let calls = 0;
  const { clock, WS, client, errors } = setup({ token: async () => {
    if (++calls === 1) throw new Error("auth server down");
    return "ok";
  } });
  await flush();
  assert.equal(WS.instances.length, 0);
  assert.ok(errors.some((e) => e.code === "TOKEN" && /auth server down/.test(e.message)));
  await clock.advance(500);
  assert.equal(WS.instances.length, 1);
  WS.last().open();
  assert.equal(WS.last().sentOfType("auth")[0].token, "ok");
  client.close();
});

test("a handshake not answered in connectTimeoutMs is abandoned and retried", async () => {
  const { clock, WS, client, states } = setup({ connectTimeoutMs: 10_000 });
  await flush();
  const first = WS.last();
  assert.deepEqual(clock.pending(), [10_000]);
  await clock.advance(10_000);
  assert.equal(first.closeCalls, 1);
  assert.deepEqual(states.at(-1), ["disconnected", { code: 1006, reason: "connect timeout", retrying: true, delay: 500 }]);
  await clock.advance(500);
  assert.equal(WS.instances.length, 2);
  first.serverClose(1006); // the abandoned socket's late close changes nothing
  assert.equal(WS.instances.length, 2);
  assert.equal(client.state, "connecting");
  WS.last().open();
  assert.deepEqual(clock.pending(), []); // opened: no timeout left running
  client.close();
});
