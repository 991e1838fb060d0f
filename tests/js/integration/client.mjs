// One rtpush.js client driven by tests/integration/test_js_client.py:
// the configuration is argv[2] (JSON), commands arrive as JSON lines on
// stdin, and everything the client reports is printed as JSON lines.
//   config: {url, channels: [..], secret?: HS256 secret, sub?, ttl?: token lifetime s,
//            tokenInUrl?: the client's option of that name}
//   commands: {"cmd":"publish","channel":C,"data":V} | {"cmd":"close"}
import { createHmac } from "node:crypto";
import { createInterface } from "node:readline";
import { RtpushClient } from "../../../clients/js/rtpush.js";
import { WebSocket } from "./node_ws.mjs";

const config = JSON.parse(process.argv[2]);
const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function mint(secret, claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

// Reports the URL of every connection the client opens: whether a token
// rode in it (SPEC section 17: not unless tokenInUrl).
class ReportingWebSocket extends WebSocket {
  constructor(url, protocol) {
    super(url, protocol);
    print({ event: "ws_url", url });
  }
}
const options = { WebSocket: ReportingWebSocket, tokenInUrl: config.tokenInUrl === true };
if (config.secret) {
  options.token = async () => {
    const exp = Math.floor(Date.now() / 1000) + config.ttl;
    print({ event: "token", exp });
    return mint(config.secret, { sub: config.sub || "js", exp });
  };
}
const client = new RtpushClient(config.url, options);
client.on("state", (state, detail) => print({ event: "state", state, detail }));
client.on("error", (e) => print({ event: "error", code: e.code, message: e.message }));
client.on("authenticated", (info) => print({ event: "authenticated", ...info }));
for (const channel of config.channels) {
  const sub = client.subscribe(channel, (m) => print({ event: "message", channel: m.channel, id: m.id, data: m.data }));
  sub.on("subscribed", (info) => print({ event: "subscribed", channel, ...info }));
  sub.on("recovered", (value) => print({ event: "recovered", channel, value }));
}

createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  if (cmd.cmd === "close") {
    client.close();
    print({ event: "closed" });
    process.exit(0);
  }
  if (cmd.cmd === "publish") {
    try {
      print({ event: "published", ...(await client.publish(cmd.channel, cmd.data)), tag: cmd.tag });
    } catch (e) {
      print({ event: "publish_error", code: e.code, message: e.message, tag: cmd.tag });
    }
  }
});
