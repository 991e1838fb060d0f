// The demo page's behaviour: one RtpushClient, the subscriptions the user
// asked for, and the messages they brought. Element ids are listed at the
// top of index.html. Text from the network only ever goes into textContent.
import { RtpushClient } from "/js/rtpush.js";

const MAX_MESSAGES = 1000; // the list is a view, not a store: keep the page light

const $ = (id) => document.getElementById(id);
const subscriptions = new Map(); // channel -> { sub, item }
let client = null;

function defaultUrl() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";
}

function showState(state, detail) {
  const out = $("state");
  out.textContent = state;
  out.dataset.state = state;
  let why = "";
  if (state === "disconnected" && detail) {
    why = "close " + detail.code + (detail.reason ? " " + detail.reason : "");
    why += detail.retrying ? ", retrying in " + (detail.delay / 1000).toFixed(1) + " s" : ", stopped";
  }
  $("state-detail").textContent = why;
}

function showError(err) {
  $("error").textContent = err ? "error: " + (err.code ? err.code + " " : "") + err.message : "";
}

function showMessage(msg) {
  const item = document.createElement("li");
  item.dataset.channel = msg.channel;
  item.dataset.id = msg.id;
  // A payload that was not JSON (published as MessagePack bin or protobuf
  // bytes) arrives as base64 text: say so rather than show it as a string.
  const data = msg.encoding === "base64" ? "base64 " + msg.data : JSON.stringify(msg.data);
  for (const [cls, text] of [["channel", msg.channel], ["id", msg.id], ["data", data]]) {
    const span = document.createElement(cls === "data" ? "code" : "span");
    span.className = cls;
    span.textContent = text;
    item.append(span);
  }
  const list = $("messages");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(item);
  while (list.children.length > MAX_MESSAGES) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// Subscribes `channel` on the current client and wires its row: marked
// subscribed each time the server confirms it (on every connection), and
// its "recovered" cell "-" until a resubscribe after a reconnect reports it.
function attach(channel, item) {
  item.dataset.subscribed = "false";
  const sub = client.subscribe(channel, showMessage);
  sub.on("subscribed", () => {
    item.dataset.subscribed = "true";
  });
  sub.on("recovered", (recovered) => {
    const cell = item.querySelector(".recovered");
    cell.textContent = String(recovered);
    cell.dataset.recovered = String(recovered);
  });
  return sub;
}

function addSubscription(channel) {
  if (subscriptions.has(channel)) return;
  const item = document.createElement("li");
  item.dataset.channel = channel;
  const name = document.createElement("span");
  name.className = "channel";
  name.textContent = channel;
  const recovered = document.createElement("span");
  recovered.className = "recovered";
  recovered.title = "recovered after the last reconnect";
  recovered.textContent = "-";
  const drop = document.createElement("button");
  drop.type = "button";
  drop.textContent = "Unsubscribe";
  drop.setAttribute("aria-label", "Unsubscribe from " + channel);
  drop.addEventListener("click", () => {
    subscriptions.get(channel)?.sub.unsubscribe();
    subscriptions.delete(channel);
    item.remove();
  });
  item.append(name, " recovered: ", recovered, " ", drop);
  $("subscriptions").append(item);
  subscriptions.set(channel, { sub: attach(channel, item), item });
}

// (Re)creates the client from the form; the channels already listed are
// subscribed again on the new connection.
function connect() {
  if (client) client.close();
  const token = $("token").value.trim();
  client = new RtpushClient($("url").value.trim() || defaultUrl(), {
    token: token || undefined,
    encoding: "json",
  });
  client.on("state", (state, detail) => {
    showState(state, detail);
    if (state === "connecting") {
      for (const entry of subscriptions.values()) entry.item.dataset.subscribed = "false";
    }
  });
  client.on("error", showError);
  showError(null);
  for (const [channel, entry] of subscriptions) entry.sub = attach(channel, entry.item);
}

$("connect-form").addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});

$("subscribe-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const channel = $("channel").value.trim();
  if (!channel) return;
  addSubscription(channel);
  $("channel").value = "";
  if (!$("pub-channel").value) $("pub-channel").value = channel;
});

$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("pub-result");
  let data;
  try {
    data = JSON.parse($("pub-data").value);
  } catch (err) {
    result.textContent = "not JSON: " + err.message;
    result.dataset.ok = "false";
    return;
  }
  try {
    const { id } = await client.publish($("pub-channel").value.trim(), data);
    result.textContent = "published " + id;
    result.dataset.ok = "true";
  } catch (err) {
    result.textContent = "failed: " + (err.code ? err.code + " " : "") + err.message;
    result.dataset.ok = "false";
  }
});

$("clear").addEventListener("click", () => $("messages").replaceChildren());

connect();
