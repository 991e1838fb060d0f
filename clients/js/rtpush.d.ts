// TypeScript declarations for rtpush.js (SPEC section 10).

export type RtpushState = "connecting" | "connected" | "disconnected";

export interface RtpushMessage {
  channel: string;
  /** "<ms>-<seq>", increasing within a channel */
  id: string;
  data: any;
  /** Unix time in seconds, with a fraction */
  timestamp: number;
  /** "base64" when the payload was not JSON (data is then base64 text) */
  encoding?: "base64";
  /** the `sub` of the authenticated connection that published it (set by the server); absent otherwise */
  user?: string;
}

/** A string, or a function giving a fresh token, called on every (re)connect and before `exp`. */
export type RtpushToken = string | (() => string | Promise<string>);

export interface RtpushOptions {
  token?: RtpushToken;
  /** true: the token goes in the URL's `token` query parameter (which proxies and
   * servers log); default false: it goes in an `auth` frame, the first frame sent */
  tokenInUrl?: boolean;
  encoding?: "json";
  /** A WebSocket constructor; default globalThis.WebSocket */
  WebSocket?: new (url: string, protocol: string) => any;
  setTimeout?: (fn: () => void, ms: number) => any;
  clearTimeout?: (handle: any) => void;
  /** ms since the epoch; default Date.now */
  now?: () => number;
  /** in [0, 1); default Math.random */
  random?: () => number;
  /** reconnect delay: random in [0, min(backoffCapMs, backoffBaseMs * 2^attempt)]; 500 */
  backoffBaseMs?: number;
  /** 20000 */
  backoffCapMs?: number;
  /** attempts start again from 0 after a connection stayed up this long; 60000 */
  stableAfterMs?: number;
  /** a token function's token is refreshed this long before its exp (at most halfway); 30000 */
  refreshBeforeMs?: number;
  /** a handshake not answered within this long is abandoned and retried with backoff; 10000 */
  connectTimeoutMs?: number;
  /** gets what a callback or listener threw; default: the browser's reportError, else rethrown from a microtask */
  reportError?: (err: unknown) => void;
}

export interface DisconnectDetail {
  /** the WebSocket close code (0: no connection was made) */
  code: number;
  reason: string;
  /** false: the client stopped (close(), or 1008/1009 again) */
  retrying: boolean;
  /** ms until the next attempt, when retrying */
  delay?: number;
}

/** Errors carry `code`: a close code (1008, 1009), a server error code
 * ("FORBIDDEN", "UNAUTHORIZED", ...), or "NOT_CONNECTED", "CONNECTION_LOST", "TOKEN", "BAD_URL". */
export interface RtpushError extends Error {
  code: string | number;
  reason?: string;
}

export declare class Subscription {
  readonly channel: string;
  /** each time the server confirms the subscription (on every connection): what is published from then on arrives */
  on(event: "subscribed", fn: (info: { position: string | null }) => void): () => void;
  /** after every resubscribe with `since`: false = some messages are gone for good */
  on(event: "recovered", fn: (recovered: boolean) => void): () => void;
  /** code FORBIDDEN: the server ended the subscription (a token refresh no longer permits the channel) */
  on(event: "error", fn: (error: RtpushError) => void): () => void;
  off(event: string, fn: (...args: any[]) => void): void;
  unsubscribe(): void;
}

export declare class RtpushClient {
  constructor(url: string, options?: RtpushOptions);
  readonly url: string;
  readonly state: RtpushState;
  subscribe(channel: string, callback: (msg: RtpushMessage) => void): Subscription;
  publish(channel: string, data: any): Promise<{ channel: string; id: string }>;
  on(event: "state", fn: (state: RtpushState, detail?: DisconnectDetail) => void): () => void;
  on(event: "error", fn: (error: RtpushError) => void): () => void;
  on(event: "authenticated", fn: (info: { user: string; expires: number | null }) => void): () => void;
  off(event: string, fn: (...args: any[]) => void): void;
  close(): void;
}

/** Compares two ids as pairs of integers: -1, 0 or 1. */
export declare function compareIds(a: string, b: string): number;
/** The `exp` claim of a JWT (seconds), read without verifying; null when absent. */
export declare function tokenExpiry(token: string): number | null;
