// Driven by bench/js_reconnect.sh: CLIENTS rtpush.js clients in PROCS Node
// processes on one channel, a publisher posting to another node of the same
// Redis. Writes STATE/ready once all are subscribed and the publisher runs;
// the script then kills and restarts the clients' node and writes
// STATE/restarted ("<killed ms> <launched ms> <serving ms>"). Prints the time
// until every client was resubscribed, and messages lost / doubled.
import { fork } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { RtpushClient } from "../clients/js/rtpush.js";
import { WebSocket } from "../tests/js/integration/node_ws.mjs";

const env = process.env;
const CHANNEL = "bench:js";

if (process.argv[2] === "worker") worker(Number(process.argv[3]));
else main();

function worker(count) {
  const clients = [];
  let subscribedTwice = 0;
  for (let i = 0; i < count; i++) {
    const c = { ids: [], confirmations: 0, doubled: 0, seen: new Set() };
    c.client = new RtpushClient(env.URL, { WebSocket });
    const sub = c.client.subscribe(CHANNEL, (m) => {
      if (c.seen.has(m.id)) c.doubled++;
      c.seen.add(m.id);
      c.ids.push(m.id);
    });
    sub.on("subscribed", () => {
      c.confirmations++;
      if (c.confirmations === 1) process.send({ type: "subscribed" });
      if (c.confirmations === 2) {
        subscribedTwice++;
        process.send({ type: "resubscribed", at: Date.now() });
      }
    });
    sub.on("recovered", (ok) => ok || process.send({ type: "unrecovered" }));
    clients.push(c);
  }
  process.on("message", (msg) => {
    if (msg.type !== "check") return;
    const published = msg.ids;
    const last = published[published.length - 1];
    const deadline = Date.now() + 15000;
    const poll = () => {
      const behind = clients.filter((c) => c.ids[c.ids.length - 1] !== last).length;
      if (behind && Date.now() < deadline) return setTimeout(poll, 50);
      const want = new Set(published);
      let lost = 0, doubled = 0, foreign = 0, unordered = 0;
      for (const c of clients) {
        lost += published.filter((id) => !c.seen.has(id)).length;
        doubled += c.doubled;
        foreign += c.ids.filter((id) => !want.has(id)).length;
        unordered += c.ids.join() === published.filter((id) => c.seen.has(id)).join() ? 0 : 1;
        c.client.close();
      }
      process.send({ type: "result", lost, doubled, foreign, unordered, behind, subscribedTwice });
      setTimeout(() => process.exit(0), 100);
    };
    poll();
  });
}

async function main() {
  const clients = Number(env.CLIENTS || 1000);
  const procs = Number(env.PROCS || 2);
  const state = env.STATE;
  const workers = [];
  let subscribed = 0;
  const resubscribedAt = [];
  let unrecovered = 0;
  const results = [];
  for (let p = 0; p < procs; p++) {
    const n = Math.floor(clients / procs) + (p < clients % procs ? 1 : 0);
    const w = fork(fileURLToPath(import.meta.url), ["worker", String(n)], { env });
    w.on("message", (m) => {
      if (m.type === "subscribed") subscribed++;
      if (m.type === "resubscribed") resubscribedAt.push(m.at);
      if (m.type === "unrecovered") unrecovered++;
      if (m.type === "result") results.push(m);
    });
    workers.push(w);
  }
  await until(() => subscribed === clients, 60000, "all subscribed");

  // The publisher: one HTTP publish after another to the other node, all the
  // time, keeping the ids the broker gave.
  const published = [];
  let failures = 0;
  let publishing = true;
  const publisher = (async () => {
    for (let n = 0; publishing; n++) {
      try {
        const r = await fetch(env.PUBLISH_URL, { method: "POST", body: JSON.stringify({ n }), headers: { "content-type": "application/json" } });
        if (r.ok) published.push((await r.json()).id);
        else failures++;
      } catch {
        failures++;
      }
      await sleep(Number(env.PUBLISH_EVERY_MS || 10));
    }
  })();
  await sleep(500);
  writeFileSync(`${state}/ready`, "");
  await until(() => existsSync(`${state}/restarted`) && readFileSync(`${state}/restarted`, "utf8").endsWith("\n"), 120000, "the restart");
  const [killed, launched, serving] = readFileSync(`${state}/restarted`, "utf8").trim().split(" ").map(Number);
  await until(() => resubscribedAt.length === clients, 120000, "all resubscribed");
  const all = Math.max(...resubscribedAt);
  resubscribedAt.sort((a, b) => a - b);
  const pct = (q) => resubscribedAt[Math.min(clients - 1, Math.floor(q * clients))] - launched;
  await sleep(1000);
  publishing = false;
  await publisher;
  for (const w of workers) w.send({ type: "check", ids: published });
  await until(() => results.length === procs, 60000, "the workers' checks");
  const sum = (k) => results.reduce((s, r) => s + r[k], 0);
  console.log(`clients=${clients} procs=${procs}`);
  console.log(`down_ms=${launched - killed} launch_to_serving_ms=${serving - launched}`);
  console.log(`restart_to_all_resubscribed_ms=${all - launched} serving_to_all_resubscribed_ms=${all - serving}`);
  console.log(`restart_to_resubscribed_p50_ms=${pct(0.5)} p90_ms=${pct(0.9)}`);
  console.log(`published=${published.length} publish_failures=${failures}`);
  console.log(`lost=${sum("lost")} doubled=${sum("doubled")} unexpected=${sum("foreign")} out_of_order_clients=${sum("unordered")} behind_at_end=${sum("behind")} recovered_false=${unrecovered}`);
  process.exit(0);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(ready, ms, what) {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) {
      console.error(`timed out waiting for ${what}`);
      process.exit(1);
    }
    await sleep(10);
  }
}
