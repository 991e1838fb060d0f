// rtpush.js: the rtpush client (SPEC section 10) for browsers and Node.js.
// One dependency-free ES module; JSON encoding (subprotocol rtpush-json).
// Wire protocol: docs/protocol.md.

/**
 * @typedef {"connecting" | "connected" | "disconnected"} RtpushState
 * @typedef {{channel: string, id: string, data: any, timestamp: number, user?: string}} RtpushMessage
 * @typedef {string | (() => (string | Promise<string>))} RtpushToken
 * @typedef {{
 *   token?: RtpushToken,
 *   tokenInUrl?: boolean,
 *   encoding?: "json",
 *   WebSocket?: any,
 *   setTimeout?: (fn: () => void, ms: number) => any,
 *   clearTimeout?: (handle: any) => void,
 *   now?: () => number,
 *   random?: () => number,
 *   backoffBaseMs?: number,
 *   backoffCapMs?: number,
 *   stableAfterMs?: number,
 *   refreshBeforeMs?: number,
 *   connectTimeoutMs?: number,
 *   reportError?: (err: unknown) => void,
 * }} RtpushOptions
 */

const PROTOCOL = "rtpush-json";
// Close codes the server uses for "do not come straight back": a policy
// refusal (token refused or expired, disconnected by the API, too slow a
// reader) and a message too large.
const POLICY_CLOSE = 1008;
const TOO_LARGE_CLOSE = 1009;
// A channel empty at subscribe time has no position to resume from; the
// cursor is then the node's clock at connect time less this much, so ids
// minted by a clock a little behind the node's (Redis's) are not skipped.
const CLOCK_SKEW_MS = 1000;

/** Ids are "<ms>-<seq>" (or "<ms>"): compares them as a pair of integers,
 * digit strings compared by length then text, so no precision is lost.
 * @param {string} a @param {string} b @returns {number} -1, 0 or 1 */
export function compareIds(a, b) {
  const [am, as = "0"] = String(a).split("-");
  const [bm, bs = "0"] = String(b).split("-");
  return compareDigits(am, bm) || compareDigits(as, bs);
}

function compareDigits(a, b) {
  a = a.replace(/^0+(?=\d)/, "");
  b = b.replace(/^0+(?=\d)/, "");
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The `exp` claim (seconds) of a JWT, read without verifying it; null when
 * the token has none or is not a JWT.
 * @param {string} token @returns {number | null} */
export function tokenExpiry(token) {
  try {
    const part = String(token).split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
    const claims = JSON.parse(decodeUtf8(atob(b64)));
    return typeof claims.exp === "number" ? claims.exp : null;
  } catch {
    return null;
  }
}

function decodeUtf8(binary) {
  return new TextDecoder().decode(new Uint8Array([...binary].map((c) => c.charCodeAt(0))));
}

/** A tiny event emitter. A listener's exception is handed to `report`
 * (rethrown later by default), outside the client's own bookkeeping, so one
 * bad listener can neither break the client nor starve the others. */
class Emitter {
  /** @param {(err: unknown) => void} report */
  constructor(report) {
    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map();
    this._report = report;
  }

  /** @param {string} event @param {Function} fn @returns {() => void} removes the listener */
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(fn);
    return () => this.off(event, fn);
  }

  /** @param {string} event @param {Function} fn */
  off(event, fn) {
    this._listeners.get(event)?.delete(fn);
  }

  _emit(event, ...args) {
    for (const fn of [...(this._listeners.get(event) || [])]) this._call(fn, args);
  }

  _call(fn, args) {
    try {
      fn(...args);
    } catch (err) {
      this._report(err);
    }
  }
}

/** Browsers' reportError (to window.onerror), else a throw from a microtask. */
function defaultReport(err) {
  if (typeof globalThis.reportError === "function") return globalThis.reportError(err);
  queueMicrotask(() => {
    throw err;
  });
}

/** One `subscribe` call. Events: "subscribed" ({position}, each time the
 * server confirms it: messages published from then on arrive), "recovered"
 * (boolean, after every resubscribe with `since`: false = some messages are
 * gone for good), "error" (Error with .code FORBIDDEN: the server ended the
 * subscription after a token refresh; it is not resubscribed). */
export class Subscription extends Emitter {
  /** @param {RtpushClient} client @param {string} channel @param {(msg: RtpushMessage) => void} callback */
  constructor(client, channel, callback) {
    super(client._report);
    this.channel = channel;
    this._client = client;
    this._callback = callback;
  }

  unsubscribe() {
    this._client._unsubscribe(this);
  }
}

/** The client. Events: "state" (state, {code, reason, retrying} when
 * disconnected), "error" (Error with .code: a close code or a server error
 * code), "authenticated" ({user, expires}). */
export class RtpushClient extends Emitter {
  /** @param {string} url @param {RtpushOptions} [options] */
  constructor(url, options = {}) {
    super(options.reportError || defaultReport);
    if ((options.encoding || "json") !== "json") throw new Error(`rtpush: encoding ${options.encoding} is not supported`);
    this.url = url;
    this._token = options.token;
    // The token goes in an `auth` frame unless asked otherwise: a URL's
    // query string ends up in proxies' and servers' access logs.
    this._tokenInUrl = options.tokenInUrl === true;
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    if (!this._WebSocket) throw new Error("rtpush: no WebSocket: pass options.WebSocket");
    this._setTimeout = options.setTimeout || ((fn, ms) => setTimeout(fn, ms));
    this._clearTimeout = options.clearTimeout || ((h) => clearTimeout(h));
    this._now = options.now || (() => Date.now());
    this._random = options.random || Math.random;
    this._base = options.backoffBaseMs ?? 500;
    this._cap = options.backoffCapMs ?? 20000;
    this._stableAfter = options.stableAfterMs ?? 60000;
    this._refreshBefore = options.refreshBeforeMs ?? 30000;
    this._connectTimeout = options.connectTimeoutMs ?? 10000;

    /** @type {RtpushState} */
    this.state = "disconnected";
    this._attempt = 0;
    this._closed = false;
    this._ws = null;
    this._generation = 0; // bumped per connection: late callbacks of old ones are ignored
    this._openedAt = 0;
    this._policyRetried = false; // one reconnect allowed after 1008/1009 until a stable minute
    this._timer = null;
    this._refreshTimer = null;
    this._openTimer = null;
    this._serverTimeMs = null;
    this._nextRef = 1;
    /** @type {Map<number, {resolve: Function, reject: Function}>} */
    this._pending = new Map();
    /** channel -> {subs: Set<Subscription>, cursor: string|null, last: string|null}
     * cursor: the id to resume from (the last delivered, else the position
     * of the first `subscribed`); last: the last id delivered. */
    this._channels = new Map();
    // Not synchronously: listeners attached right after `new` see "connecting".
    queueMicrotask(() => this._closed || this._connect());
  }

  /** @param {string} channel @param {(msg: RtpushMessage) => void} callback @returns {Subscription} */
  subscribe(channel, callback) {
    const sub = new Subscription(this, channel, callback);
    let ch = this._channels.get(channel);
    if (!ch) {
      ch = { subs: new Set(), cursor: null, last: null };
      this._channels.set(channel, ch);
      if (this.state === "connected") this._send({ type: "subscribe", channel });
    }
    ch.subs.add(sub);
    return sub;
  }

  _unsubscribe(sub) {
    const ch = this._channels.get(sub.channel);
    if (!ch || !ch.subs.delete(sub) || ch.subs.size) return;
    this._channels.delete(sub.channel);
    if (this.state === "connected") this._send({ type: "unsubscribe", channel: sub.channel });
  }

  /** Resolves once the broker accepted the message. Rejected at once when
   * not connected (nothing is queued), on a server error, and when the
   * connection drops before the answer (then it may or may not be published).
   * @param {string} channel @param {any} data @returns {Promise<{channel: string, id: string}>} */
  publish(channel, data) {
    if (this.state !== "connected") {
      return Promise.reject(withCode(new Error(`rtpush: not connected (${this.state}): nothing was published`), "NOT_CONNECTED"));
    }
    const ref = this._nextRef++;
    return new Promise((resolve, reject) => {
      this._pending.set(ref, { resolve, reject });
      this._send({ type: "publish", channel, data, ref });
    });
  }

  /** Closes for good: no reconnect; pending publishes are rejected. */
  close() {
    this._closed = true;
    this._cancel("_timer");
    const ws = this._ws;
    this._dropConnection();
    if (ws) ws.close(1000);
    this._setState("disconnected", { code: 1000, reason: "closed by the client", retrying: false });
  }

  // -- connection -----------------------------------------------------------

  async _connect() {
    const generation = ++this._generation;
    this._setState("connecting");
    let token = null;
    try {
      token = await this._freshToken();
    } catch (err) {
      if (generation !== this._generation || this._closed) return;
      this._emit("error", tokenError(err));
      this._retry({ code: 0, reason: "no token" });
      return;
    }
    if (generation !== this._generation || this._closed) return;
    let url = this.url;
    if (token != null && this._tokenInUrl) url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
    let ws;
    try {
      ws = new this._WebSocket(url, PROTOCOL);
    } catch (err) {
      // A malformed URL: retrying would fail the same way.
      this._emit("error", withCode(err instanceof Error ? err : new Error(String(err)), "BAD_URL"));
      this._closed = true;
      this._setState("disconnected", { code: 0, reason: String(err && err.message), retrying: false });
      return;
    }
    this._ws = ws;
    this._currentToken = token;
    ws.onopen = () => generation === this._generation && this._onOpen();
    ws.onmessage = (ev) => generation === this._generation && this._onFrame(ev.data);
    ws.onclose = (ev) => generation === this._generation && this._onClose(ev.code, ev.reason || "");
    ws.onerror = () => {}; // a close event always follows
    // A handshake nobody answers (a node accepting but not serving yet, a
    // lost SYN) would otherwise wait for the OS's TCP timeout, minutes,
    // with this client out of the backoff loop.
    this._openTimer = this._setTimeout(() => {
      this._openTimer = null;
      if (generation !== this._generation) return;
      this._onClose(1006, "connect timeout");
      try {
        ws.close();
      } catch {
        // a socket that cannot even be closed is dropped all the same
      }
    }, this._connectTimeout);
  }

  async _freshToken() {
    return typeof this._token === "function" ? await this._token() : this._token ?? null;
  }

  _onOpen() {
    this._cancel("_openTimer");
    this._openedAt = this._now();
    this._serverTimeMs = null;
    // The auth frame goes first: the server handles frames in order, so the
    // subscribes below (and any publish) are made as the token's user.
    if (this._currentToken != null && !this._tokenInUrl) this._send({ type: "auth", token: this._currentToken });
    this._setState("connected");
    for (const [channel, ch] of this._channels) {
      const frame = { type: "subscribe", channel };
      if (ch.cursor !== null) frame.since = ch.cursor;
      this._send(frame);
    }
    this._scheduleRefresh(tokenExpiry(this._currentToken));
  }

  _onClose(code, reason) {
    this._dropConnection();
    if (this._closed) return;
    if (this._now() - this._openedAt >= this._stableAfter && this._openedAt) {
      this._attempt = 0;
      this._policyRetried = false;
    }
    this._openedAt = 0;
    if (code === POLICY_CLOSE || code === TOO_LARGE_CLOSE) {
      this._emit("error", withCode(new Error(`rtpush: closed by the server: ${code} ${reason}`), code, reason));
      // 1008 can only go better with a new token; 1009 followed a message of
      // ours that was too large, already rejected. Either way: once.
      const canRetry = !this._policyRetried && (code === TOO_LARGE_CLOSE || typeof this._token === "function");
      if (!canRetry) {
        this._closed = true;
        this._setState("disconnected", { code, reason, retrying: false });
        return;
      }
      this._policyRetried = true;
    }
    this._retry({ code, reason });
  }

  /** Exponential backoff with full jitter: random in [0, min(cap, base*2^attempt)]. */
  _retry(detail) {
    const delay = this._random() * Math.min(this._cap, this._base * 2 ** this._attempt);
    this._attempt++;
    this._setState("disconnected", { ...detail, retrying: true, delay });
    this._timer = this._setTimeout(() => {
      this._timer = null;
      if (!this._closed) this._connect();
    }, delay);
  }

  /** Cancels the timer held in this[field] (_timer, _openTimer, _refreshTimer), if any. */
  _cancel(field) {
    if (this[field] !== null) this._clearTimeout(this[field]);
    this[field] = null;
  }

  _dropConnection() {
    this._cancel("_openTimer");
    this._generation++;
    this._ws = null;
    this._cancel("_refreshTimer");
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const p of pending) {
      p.reject(withCode(new Error("rtpush: connection lost before the publish was answered: it may or may not have been published"), "CONNECTION_LOST"));
    }
  }

  _setState(state, detail) {
    if (state === this.state && state !== "disconnected") return;
    this.state = state;
    this._emit("state", state, detail);
  }

  _send(frame) {
    this._ws.send(JSON.stringify(frame));
  }

  // -- token refresh ----------------------------------------------------------

  /** Sends a fresh token in an `auth` frame a little before `exp` (seconds):
   * refreshBeforeMs before it, or halfway there for a short-lived token. */
  _scheduleRefresh(exp) {
    this._cancel("_refreshTimer");
    if (exp == null || typeof this._token !== "function") return;
    const left = exp * 1000 - this._now();
    const delay = Math.max(0, left - Math.min(this._refreshBefore, left / 2));
    const generation = this._generation;
    this._refreshTimer = this._setTimeout(async () => {
      this._refreshTimer = null;
      let token;
      try {
        token = await this._freshToken();
      } catch (err) {
        // The server closes the connection at expiry (1008); reconnecting
        // then calls the function again.
        this._emit("error", tokenError(err));
        return;
      }
      if (generation !== this._generation || this.state !== "connected") return;
      this._currentToken = token;
      this._send({ type: "auth", token });
    }, delay);
  }

  // -- frames -----------------------------------------------------------------

  _onFrame(text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      return; // not ours to crash on: the server only sends JSON
    }
    switch (f.type) {
      case "connection_established":
        if (typeof f.timestamp === "number") this._serverTimeMs = Math.floor(f.timestamp * 1000);
        break;
      case "subscribed":
        return this._onSubscribed(f);
      case "message":
        return this._onMessage(f);
      case "unsubscribed":
        return this._onUnsubscribed(f);
      case "published":
        return this._settle(f.ref, (p) => p.resolve({ channel: f.channel, id: f.id }));
      case "authenticated":
        this._emit("authenticated", { user: f.user, expires: f.expires });
        return this._scheduleRefresh(typeof f.expires === "number" ? f.expires : null);
      case "error": {
        const err = withCode(new Error(`rtpush: ${f.code}: ${f.message}`), f.code);
        if (f.ref != null && this._pending.has(f.ref)) return this._settle(f.ref, (p) => p.reject(err));
        this._emit("error", err);
        break;
      }
    }
  }

  _settle(ref, fn) {
    const p = this._pending.get(ref);
    if (!p) return;
    this._pending.delete(ref);
    fn(p);
  }

  _onSubscribed(f) {
    const ch = this._channels.get(f.channel);
    if (!ch) return;
    if (ch.cursor === null) {
      // Resume point for a channel nothing was delivered on yet: its newest
      // id now, so a reconnect before its first message still replays what
      // came after this subscribe. An empty channel has none: the node's
      // clock at connect (less a skew margin) stands in for it, as any id
      // minted after this moment is above it (nothing older was retained).
      if (f.position != null) ch.cursor = String(f.position);
      else if (this._serverTimeMs !== null) ch.cursor = `${Math.max(0, this._serverTimeMs - CLOCK_SKEW_MS)}-0`;
    }
    for (const sub of [...ch.subs]) {
      sub._emit("subscribed", { position: f.position ?? null });
      if (typeof f.recovered === "boolean") sub._emit("recovered", f.recovered);
    }
  }

  /** The server ended a subscription (a token refresh no longer permits
   * the channel): its subscriptions get "error" (code FORBIDDEN) and the
   * channel is not resubscribed on reconnect. An answer to our own
   * unsubscribe has no reason and changes nothing. */
  _onUnsubscribed(f) {
    if (f.reason == null) return;
    const ch = this._channels.get(f.channel);
    if (!ch) return;
    this._channels.delete(f.channel);
    const err = withCode(new Error(`rtpush: ${f.reason}: subscription to ${f.channel} ended by the server`), f.reason);
    for (const sub of [...ch.subs]) sub._emit("error", err);
  }

  _onMessage(f) {
    const ch = this._channels.get(f.channel);
    if (!ch) return;
    // Never deliver an id twice: the server promises no duplicates, this
    // guards the seam of a resubscribe anyway.
    if (ch.last !== null && compareIds(f.id, ch.last) <= 0) return;
    ch.last = ch.cursor = String(f.id);
    const msg = { channel: f.channel, id: f.id, data: f.data, timestamp: f.timestamp };
    if (f.encoding) msg.encoding = f.encoding;
    if (typeof f.user === "string") msg.user = f.user;
    for (const sub of [...ch.subs]) this._call(sub._callback, [msg]);
  }
}

function tokenError(cause) {
  return withCode(new Error(`rtpush: the token function failed: ${cause && cause.message}`), "TOKEN");
}

function withCode(err, code, reason) {
  err.code = code;
  if (reason !== undefined) err.reason = reason;
  return err;
}
