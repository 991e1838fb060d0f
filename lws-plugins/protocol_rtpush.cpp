// rtpush: the core of a vhost and its HTTP API. Its per-vhost options
// (README.md "Options") configure the vhost's core (vhost.h); mount it with "origin": "callback://rtpush".
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config_refusal.h"
#include "refused_vhost.h"
#include "graceful_stop.h"
#include "reload_drain.h"
#include "http_api.h"
#include "http_exchange.h"
#include "lws_headers.h"
#include "lws_logger.h"
#include "sse_stream.h"
#include "vhost_state.h"

namespace {

using rtpush_lws::header_of;
using rtpush_lws::VhostState;

struct HttpSessionData;

// One HTTP request and its answer on a connection bound to this protocol:
// what is decided per request is rtpush::HttpExchange's (http_exchange.h),
// pipelining included; this adds what ties it to lws.
struct Exchange {
  Exchange(struct lws* w, HttpSessionData* o) : wsi(w), owner(o) {}
  struct lws* wsi;
  HttpSessionData* owner;
  rtpush::HttpExchange http;
  // receive-timeout-secs for the body. lws's own body timeout restarts on
  // every chunk, so a body dribbled a byte at a time would never end.
  lws_sorted_usec_list_t body_timer{};
  // The connection's reading is paused (lws_rx_flow_control) until the
  // answer: lws 4.1.6 then services no event of it, WRITEABLE included.
  bool paused = false;
  // respond() may run after the connection is gone: it checks this first.
  std::shared_ptr<Exchange*> anchor = std::make_shared<Exchange*>(this);
};

struct HttpSessionData {
  Exchange* exchange;
  // A GET sse/<channel> that became a stream (sse_stream.h): from its 200
  // until the connection closes. No exchange then.
  rtpush_lws::SseConnection* sse;
};

void end_exchange(HttpSessionData* pss) {
  if (pss && pss->exchange) {
    lws_sul_cancel(&pss->exchange->body_timer);
    delete pss->exchange;
    pss->exchange = nullptr;
  }
}

void end_sse(HttpSessionData* pss) {
  if (pss && pss->sse) {
    rtpush_lws::end_sse(pss->sse);
    pss->sse = nullptr;
  }
}

void tick(lws_sorted_usec_list_t* sul) {
  auto* vs = lws_container_of(sul, VhostState, tick);
  try {
    vs->core->tick();
  } catch (const std::exception& e) {
    rtpush_lws::log_event(rtpush::LogLevel::Err, "sweep_failed", {{"sweep", "heartbeat"}, {"cause", e.what()}});
  }
  lws_sul_schedule(vs->context, 0, &vs->tick, ::tick, LWS_US_PER_SEC);
}

void auth_sweep(lws_sorted_usec_list_t* sul) {
  auto* vs = lws_container_of(sul, VhostState, auth_sweep);
  try {
    vs->core->expire_auth();
  } catch (const std::exception& e) {
    rtpush_lws::log_event(rtpush::LogLevel::Err, "sweep_failed", {{"sweep", "token_expiry"}, {"cause", e.what()}});
  }
  lws_sul_schedule(vs->context, 0, &vs->auth_sweep, ::auth_sweep, rtpush_lws::kAuthSweepUs);
}

int init_vhost(struct lws* wsi, const struct lws_protocol_vhost_options* pvo) {
  struct lws_vhost* vh = lws_get_vhost(wsi);
  auto* vs = static_cast<VhostState*>(
      lws_protocol_vh_priv_zalloc(vh, lws_get_protocol(wsi), sizeof(VhostState)));
  if (!vs) return -1;
  rtpush::OptionList values;
  for (; pvo; pvo = pvo->next) values.emplace_back(pvo->name, pvo->value ? pvo->value : "");
  rtpush::OptionsResult parsed = rtpush::parse_options(values, rtpush::default_node_id());
  for (const std::string& w : parsed.warnings)
    rtpush_lws::log_event(rtpush::LogLevel::Warn, "config_warning", {{"vhost", lws_get_vhost_name(vh)}, {"cause", w}});
  if (!parsed.ok) {
    const rtpush::ConfigRefusal about = rtpush::config_refusal(parsed.error, values);
    rtpush_lws::log_event(rtpush::LogLevel::Err, "config_refused",
                          {{"vhost", lws_get_vhost_name(vh)}, {"option", about.option}, {"path", about.path},
                           {"cause", parsed.error.cause}});
    rtpush_lws::refuse_vhost(vs, about);  // answers 503 from now on (refused_vhost.h)
    return 0;
  }
  const rtpush::Options& o = parsed.options;
  // Results of backend I/O come back to this thread: the I/O thread wakes
  // lws (the only lws call safe from another thread), and
  // LWS_CALLBACK_EVENT_WAIT_CANCELLED drains them. Lines the core logs on
  // the I/O thread come back the same way (lws_logger.h).
  struct lws_context* cx = lws_get_context(wsi);
  rtpush::ConfigError why;
  std::unique_ptr<rtpush::Vhost> core =
      rtpush::Vhost::build(o, lws_get_count_threads(cx), [cx] { lws_cancel_service(cx); },
                           [node = o.node_id](rtpush::IoThread* io) { return rtpush_lws::lws_logger(io, node); }, &why);
  if (!core) {
    const rtpush::ConfigRefusal about = rtpush::config_refusal(why, values);
    rtpush_lws::log_event(rtpush::LogLevel::Err, "config_refused",
                          {{"vhost", lws_get_vhost_name(vh)}, {"option", about.option}, {"path", about.path},
                           {"cause", why.cause}},
                          o.node_id);
    rtpush_lws::refuse_vhost(vs, about);
    return 0;
  }
  vs->core = core.release();
  vs->port = &vs->core->transport();
  vs->io = vs->core->io();
  vs->context = lws_get_context(wsi);
  lws_sul_schedule(vs->context, 0, &vs->tick, tick, LWS_US_PER_SEC);
  // Without a key no token is ever accepted, so nothing can expire (and
  // auth required needs a key): an open vhost does not wake for it.
  if (vs->core->accepts_tokens())
    lws_sul_schedule(vs->context, 0, &vs->auth_sweep, auth_sweep, rtpush_lws::kAuthSweepUs);
  rtpush_lws::graceful_stop_attach(vs);  // SIGTERM and SIGINT stop gracefully (graceful_stop.h)
  rtpush_lws::reload_drain_attach(vs->context);  // SIGHUP: the old child ends (reload_drain.h)
  // Never the postgres conninfo nor the redis URL as given: either may
  // hold a password (the URL is shown redacted, SPEC 12).
  const std::string broker = o.redis_url ? o.redis_url->redacted() : "embedded";
  rtpush_lws::log_event(rtpush::LogLevel::Notice, "node_start",
                        {{"vhost", lws_get_vhost_name(vh)},
                         {"broker", broker},
                         {"postgres", o.postgres.empty() ? "off" : "on"},
                         {"history", o.history_size}},
                        o.node_id);
  return 0;
}

void destroy_vhost(VhostState* vs) {
  rtpush_lws::forget_refusal(vs);
  if (!vs || !vs->core) return;
  rtpush_lws::log_event(rtpush::LogLevel::Notice, "node_stop", {}, vs->core->node_id());
  lws_sul_cancel(&vs->tick);
  lws_sul_cancel(&vs->auth_sweep);
  rtpush_lws::graceful_stop_detach(vs);
  rtpush_lws::reload_drain_detach();
  vs->port = nullptr;
  vs->io = nullptr;
  delete vs->core;  // the node, its backends, then the I/O thread (vhost.h)
  vs->core = nullptr;
}

// The request's Content-Length (lws has checked it is a number), or -1
// without one.
long long content_length_of(struct lws* wsi) {
  const std::optional<std::string> v = header_of(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  return v ? std::strtoll(v->c_str(), nullptr, 10) : -1;
}

std::string method_of(struct lws* wsi) {
  static const struct { enum lws_token_indexes token; const char* name; } kMethods[] = {
      {WSI_TOKEN_GET_URI, "GET"}, {WSI_TOKEN_POST_URI, "POST"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
      {WSI_TOKEN_PUT_URI, "PUT"}, {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"},
      {WSI_TOKEN_HEAD_URI, "HEAD"},
  };
  for (const auto& m : kMethods)
    if (lws_hdr_total_length(wsi, m.token)) return m.name;
  return "GET";
}

int write_response(struct lws* wsi, Exchange* ex) {
  const rtpush::HttpResponse& r = ex->http.response();
  const bool head = ex->http.request().method == "HEAD";
  std::size_t head_room = 512;
  for (const auto& h : r.headers) head_room += h.first.size() + h.second.size() + 4;
  std::string out(LWS_PRE + head_room + r.body.size(), '\0');
  auto* start = reinterpret_cast<unsigned char*>(&out[LWS_PRE]);
  unsigned char *p = start, *end = start + head_room;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned>(r.status), r.content_type.c_str(),
                                  r.body.size(), &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                   reinterpret_cast<const unsigned char*>("no-store"), 8, &p, end))
    return -1;
  // HTTP/1.1 is keep-alive unless told otherwise; a refused request's body
  // is left unread, and a followed one has requests behind it that lws
  // 4.1.6 cannot serve in turn (http_exchange.h): the connection carries
  // no more.
  if (ex->http.closes() && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                                  reinterpret_cast<const unsigned char*>("close"), 5, &p, end))
    return -1;
  // What the core adds (a 401's WWW-Authenticate), as it says them.
  for (const auto& h : r.headers) {
    const std::string name = h.first + ":";  // lws wants the colon
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                    reinterpret_cast<const unsigned char*>(h.second.data()),
                                    static_cast<int>(h.second.size()), &p, end))
      return -1;
  }
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
  if (!head && !r.body.empty()) {
    auto* body = reinterpret_cast<unsigned char*>(&out[LWS_PRE]);
    std::memcpy(body, r.body.data(), r.body.size());
    if (lws_write(wsi, body, r.body.size(), LWS_WRITE_HTTP_FINAL) < 0) return -1;
  }
  return 0;
}

// Writes the answer and ends the exchange; then the connection reads the
// next request, or closes. Returns what a callback returns (-1: close).
int finish(struct lws* wsi, HttpSessionData* pss) {
  Exchange* ex = pss->exchange;
  const int rc = write_response(wsi, ex);
  const bool close = ex->http.closes();  // a paused connection's answer always closes
  // Before completing: completion may unbind this protocol and free pss.
  end_exchange(pss);
  // lws flushes what it holds of the answer, then shuts the socket down.
  if (rc || close) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

// An answer for the connection: written at WRITEABLE; or now, when its
// reading is paused (a followed request whose answer came late), since lws
// services nothing of it then. Its answer closes the connection.
void answered(Exchange* ex) {
  lws_sul_cancel(&ex->body_timer);
  struct lws* wsi = ex->wsi;
  if (!ex->paused) {
    lws_callback_on_writable(wsi);
    return;
  }
  if (finish(wsi, ex->owner)) lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

// In a callback of the connection: another request waits behind the
// exchange's (http_exchange.h). Its answer goes now if it is here, with
// `Connection: close`; else reading pauses until it comes. Returns what
// the callback returns.
int followed(struct lws* wsi, HttpSessionData* pss) {
  Exchange* ex = pss->exchange;
  ex->http.followed();
  if (ex->http.has_answer()) return finish(wsi, pss);
  if (ex->http.pause_reading() && !std::exchange(ex->paused, true)) lws_rx_flow_control(wsi, 0);
  return 0;
}

void body_timed_out(lws_sorted_usec_list_t* sul) {
  auto* ex = lws_container_of(sul, Exchange, body_timer);
  if (ex->http.refuse(408, "request body not complete within receive-timeout-secs")) answered(ex);
}

void dispatch_http(struct lws* wsi, Exchange* ex) {
  rtpush::Vhost* core = rtpush_lws::core_state_of(wsi)->core;
  std::weak_ptr<Exchange*> anchor = ex->anchor;
  core->handle_http(ex->http.request(), [anchor](rtpush::HttpResponse r) {
    auto alive = anchor.lock();
    if (!alive || !*alive) return;  // the client went away first
    if ((*alive)->http.answer(std::move(r))) answered(*alive);
  });
}

int dispatch(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<HttpSessionData*>(user);
  struct lws_vhost* vh = lws_get_vhost(wsi);
  auto* vs = static_cast<VhostState*>(lws_protocol_vh_priv_get(vh, lws_get_protocol(wsi)));

  switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
      if (init_vhost(wsi, static_cast<const struct lws_protocol_vhost_options*>(in))) {
        destroy_vhost(static_cast<VhostState*>(lws_protocol_vh_priv_get(vh, lws_get_protocol(wsi))));
        return -1;
      }
      return 0;
    case LWS_CALLBACK_PROTOCOL_DESTROY:
      destroy_vhost(vs);
      return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:  // the I/O thread has results for us
      if (vs && vs->io && vs->port) vs->io->drain();
      rtpush_lws::graceful_stop_poll(vs);  // or a stop signal woke us
      return 0;

    case LWS_CALLBACK_HTTP: {
      if (!vs || !(vs->port || vs->refusal) || !pss) return -1;
      // A request after a stream's head: the stream never ends, so nothing
      // can follow it on this connection.
      if (pss->sse) return -1;
      // The next head while this connection's answer is unwritten: lws
      // read a pipelined request (http_exchange.h).
      if (pss->exchange && pss->exchange->http.complete()) return followed(wsi, pss);
      end_exchange(pss);  // keep-alive: a new request on the same connection
      auto* ex = new Exchange(wsi, pss);
      pss->exchange = ex;
      rtpush::HttpRequest& req = ex->http.request();
      req.method = method_of(wsi);
      if (vs->refusal) {  // every path of a refused vhost's mount (refused_vhost.h)
        if (ex->http.refuse(503, *vs->refusal)) answered(ex);
        return 0;
      }
      // lws passes the path after the mountpoint ("publish/c" under "/",
      // "/publish/c" under "/api"); the core strips leading slashes.
      req.path.assign(static_cast<const char*>(in), in ? len : 0);
      // For api-key-file and allowed-origins (README "Security"): the core decides.
      if (std::optional<std::string> v = header_of(wsi, WSI_TOKEN_HTTP_AUTHORIZATION))
        req.authorization = std::move(*v);
      if (std::optional<std::string> v = header_of(wsi, WSI_TOKEN_ORIGIN)) {
        req.has_origin = true;
        req.origin = std::move(*v);
      }
      if (req.method == "GET" && rtpush::is_sse_path(req.path)) {
        rtpush::HttpResponse refusal;
        const int rc = rtpush_lws::start_sse(wsi, *vs->port, req.path, &pss->sse, &refusal);
        if (pss->sse || rc) {  // a stream now (or the 200 failed): no exchange
          end_exchange(pss);
          return rc;
        }
        if (ex->http.answer(std::move(refusal))) answered(ex);  // refused like any API request
        return 0;
      }
      switch (ex->http.begin(content_length_of(wsi), lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) != 0)) {
        case rtpush::HttpExchange::Start::Dispatch:
          dispatch_http(wsi, ex);
          return 0;
        case rtpush::HttpExchange::Start::Refuse:
          answered(ex);
          return 0;
        case rtpush::HttpExchange::Start::ReadBody:
          break;
      }
      // The body arrives in HTTP_BODY; it is handled at HTTP_BODY_COMPLETION,
      // or refused with 408 when it is not all in within receive-timeout-secs.
      lws_sul_schedule(lws_get_context(wsi), lws_get_tsi(wsi), &ex->body_timer, body_timed_out,
                       static_cast<lws_usec_t>(vs->core->options().receive_timeout_secs) * LWS_US_PER_SEC);
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY: {
      Exchange* ex = pss ? pss->exchange : nullptr;
      if (!ex) return -1;
      // Past max-message-bytes the rest is read and dropped; the answer is 413.
      // (A refused vhost has no node; its answer is there already, so the body is dropped.)
      ex->http.body(std::string_view(static_cast<const char*>(in), len),
                    vs && vs->port ? vs->port->options().max_message_bytes : 0);
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (!pss || !pss->exchange) return -1;
      // lws 4.1.6 says it again for each service of a pipelined request
      // still buffered: only the first counts.
      if (!pss->exchange->http.body_complete())  // lws says it again: a request follows
        return pss->exchange->http.complete() ? followed(wsi, pss) : 0;
      lws_sul_cancel(&pss->exchange->body_timer);
      dispatch_http(wsi, pss->exchange);
      return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
      if (pss && pss->sse) return pss->sse->writable();
      if (!pss || !pss->exchange || !pss->exchange->http.has_answer()) return 0;
      return finish(wsi, pss);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      // A file of a file:// mount (the demo page) was served by lws on this
      // vhost's first protocol. As lws's own dummy callback does, end the
      // transaction: otherwise the next request of a keep-alive connection
      // is answered with the last file's stale headers and no body.
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      // A WebSocket upgrade asking for this protocol: the vhost's core is
      // HTTP only (docs/protocol.md "HTTP API"). Accepted, it would be a connection that
      // nobody pings, times out or counts.
      return 1;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
      end_exchange(pss);
      end_sse(pss);
      return 0;
    default:
      return 0;
  }
}

int callback_rtpush(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  try {
    return dispatch(wsi, reason, user, in, len);
  } catch (const std::exception& e) {
    rtpush_lws::log_event(rtpush::LogLevel::Err, "callback_failed", {{"cause", e.what()}});
  } catch (...) {
    rtpush_lws::log_event(rtpush::LogLevel::Err, "callback_failed", {{"cause", "unknown error"}});
  }
  return -1;
}

const struct lws_protocols protocols[] = {
    {"rtpush", callback_rtpush, sizeof(HttpSessionData), 0, 0, nullptr, 0},
};

}  // namespace

// lwsws looks for the symbol named after the file: libprotocol_rtpush.so ->
// `rtpush`. In C++ that name is taken by the namespace, so the variable gets
// another name and the assembler label the one lwsws wants.
extern "C" LWS_VISIBLE const lws_plugin_protocol_t rtpush_plugin __asm__("rtpush") = {
    {"rtpush core and HTTP API", "lws_protocol_plugin", LWS_PLUGIN_API_MAGIC},
    protocols, nullptr, LWS_ARRAY_SIZE(protocols), 0,
};
