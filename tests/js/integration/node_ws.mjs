// The WebSocket for rtpush.js in Node tests and benchmarks: Debian's
// node-ws (tests only; the module itself never imports it). NODE_WS
// overrides where it is.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
export const WebSocket = globalThis.WebSocket && !process.env.NODE_WS
  ? globalThis.WebSocket
  : require(process.env.NODE_WS || "/usr/share/nodejs/ws").WebSocket;
