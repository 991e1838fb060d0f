#include "sentinel_locator.h"

#include <hiredis/adapters/libev.h>

#include <utility>

#include "redis_argv.h"

namespace rtpush {

namespace {

void send(redisAsyncContext* c, redisCallbackFn* fn, void* priv, const std::vector<std::string>& args) {
  RedisArgv a(args);  // not const: some hiredis 0.14 calls take const char**
  redisAsyncCommandArgv(c, fn, priv, a.count(), a.argv.data(), a.lens.data());
}

std::vector<std::string> auth_command(const RedisAddress& a) { return {"AUTH", a.password}; }

}  // namespace

SentinelLocator::SentinelLocator(struct ev_loop* loop, RedisUrl url, std::string client_name,
                                 std::function<void(const MasterSwitch&)> on_switch)
    : loop_(loop), url_(std::move(url)), name_(std::move(client_name)), on_switch_(std::move(on_switch)) {
  for (char& ch : name_)
    if (ch <= ' ') ch = '_';
  ev_timer_init(&ask_timer_, &SentinelLocator::on_ask_timeout, kAskTimeoutSecs, 0);
  ask_timer_.data = this;
  ev_timer_init(&watch_retry_, &SentinelLocator::on_watch_retry, 0, 0);
  watch_retry_.data = this;
}

SentinelLocator::~SentinelLocator() {
  closing_ = true;
  ev_timer_stop(loop_, &ask_timer_);
  ev_timer_stop(loop_, &watch_retry_);
  if (redisAsyncContext* c = std::exchange(ask_ctx_, nullptr)) redisAsyncFree(c);
  if (redisAsyncContext* c = std::exchange(watch_ctx_, nullptr)) redisAsyncFree(c);
  auto waiting = std::move(waiting_);
  for (Found& f : waiting) f(std::nullopt, "shutting down");
}

// ---- locating -------------------------------------------------------------

void SentinelLocator::locate(Found done) {
  watch();
  if (switched_to_ && ev_now(loop_) - switched_at_ < kSwitchTrustSecs)
    return done(url_.server(switched_to_->host, switched_to_->port), {});
  switched_to_.reset();
  waiting_.push_back(std::move(done));
  if (waiting_.size() > 1) return;  // a round is under way: it answers this one too
  failures_.clear();
  asked_ = 0;
  ask(first_);
}

void SentinelLocator::not_master(const RedisAddress& server) {
  first_ = (first_ + 1) % url_.hosts.size();
  if (switched_to_ && switched_to_->host == server.host && switched_to_->port == server.port) switched_to_.reset();
}

void SentinelLocator::ask(std::size_t nth) {
  const RedisEndpoint& s = url_.hosts[nth % url_.hosts.size()];
  ++asked_;
  auth_refused_.clear();
  redisAsyncContext* c = redisAsyncConnect(s.host.c_str(), s.port);
  if (!c || c->err) {
    const std::string why = c ? c->errstr : "out of memory";
    if (c) redisAsyncFree(c);
    return asked(nth, SentinelAnswer{SentinelAnswer::Failed, {}, why});
  }
  ask_ctx_ = c;
  c->data = this;
  redisLibevAttach(loop_, c);
  redisAsyncSetConnectCallback(c, &SentinelLocator::on_ask_connect);
  redisAsyncSetDisconnectCallback(c, &SentinelLocator::on_ask_disconnect);
  // Pipelined: hiredis writes them once connected.
  const RedisAddress a = url_.sentinel(s);
  if (!a.password.empty()) send(c, &SentinelLocator::on_ask_auth, nullptr, auth_command(a));
  send(c, &SentinelLocator::on_ask_reply, reinterpret_cast<void*>(nth),
       {"SENTINEL", "get-master-addr-by-name", url_.master});
  ev_timer_set(&ask_timer_, kAskTimeoutSecs, 0);
  ev_timer_start(loop_, &ask_timer_);
}

void SentinelLocator::on_ask_connect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  if (self->closing_ || c != self->ask_ctx_ || status == REDIS_OK) return;
  self->ask_ctx_ = nullptr;  // hiredis frees it after this callback
  self->asked(self->asked_ - 1 + self->first_, SentinelAnswer{SentinelAnswer::Failed, {}, c->errstr});
}

void SentinelLocator::on_ask_disconnect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  if (self->closing_ || c != self->ask_ctx_) return;
  self->ask_ctx_ = nullptr;
  self->asked(self->asked_ - 1 + self->first_,
              SentinelAnswer{SentinelAnswer::Failed, {}, status == REDIS_OK ? "closed the connection" : c->errstr});
}

void SentinelLocator::on_ask_auth(redisAsyncContext* c, void* reply, void*) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  const auto* r = static_cast<redisReply*>(reply);
  if (self->closing_ || c != self->ask_ctx_ || !r || r->type != REDIS_REPLY_ERROR) return;
  self->auth_refused_ = "refused AUTH (redis-sentinel-password): " + std::string(r->str, r->len);
}

void SentinelLocator::on_ask_reply(redisAsyncContext* c, void* reply, void* priv) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  if (self->closing_ || c != self->ask_ctx_ || !reply) return;  // a disconnect tells
  SentinelAnswer a = sentinel_master_answer(static_cast<redisReply*>(reply));
  if (a.kind == SentinelAnswer::Failed && !self->auth_refused_.empty()) a.why = self->auth_refused_;
  self->close_ask();
  self->asked(reinterpret_cast<std::size_t>(priv), std::move(a));
}

void SentinelLocator::on_ask_timeout(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<SentinelLocator*>(w->data);
  if (!self->ask_ctx_) return;
  self->close_ask();
  self->asked(self->asked_ - 1 + self->first_, SentinelAnswer{SentinelAnswer::Failed, {}, "no answer within 500 ms"});
}

void SentinelLocator::close_ask() {
  ev_timer_stop(loop_, &ask_timer_);
  if (redisAsyncContext* c = std::exchange(ask_ctx_, nullptr)) redisAsyncFree(c);  // deferred inside its callback
}

void SentinelLocator::asked(std::size_t nth, SentinelAnswer answer) {
  ev_timer_stop(loop_, &ask_timer_);
  const std::size_t n = url_.hosts.size();
  if (answer.kind == SentinelAnswer::Address) {
    first_ = nth % n;
    return finish(url_.server(answer.master.host, answer.master.port), {});
  }
  failures_.push_back({url_.hosts[nth % n].host_port(),
                       answer.kind == SentinelAnswer::UnknownMaster ? std::string() : answer.why});
  if (asked_ < n) return ask(nth + 1);
  finish(std::nullopt, no_master_cause(url_.master, failures_));
}

void SentinelLocator::finish(std::optional<RedisAddress> server, const std::string& why) {
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (Found& f : waiting) f(server, why);
}

// ---- watching +switch-master ------------------------------------------------

void SentinelLocator::watch() {
  if (std::exchange(watching_, true)) return;
  watch_connect();
}

void SentinelLocator::watch_connect() {
  const RedisEndpoint& s = url_.hosts[watch_index_ % url_.hosts.size()];
  redisAsyncContext* c = redisAsyncConnect(s.host.c_str(), s.port);
  if (!c || c->err) {
    if (c) redisAsyncFree(c);
    return watch_failed();
  }
  watch_ctx_ = c;
  c->data = this;
  redisLibevAttach(loop_, c);
  redisAsyncSetConnectCallback(c, &SentinelLocator::on_watch_connect);
  redisAsyncSetDisconnectCallback(c, &SentinelLocator::on_watch_disconnect);
  const RedisAddress a = url_.sentinel(s);
  if (!a.password.empty()) send(c, nullptr, nullptr, auth_command(a));
  send(c, &SentinelLocator::on_watch_message, nullptr, {"SUBSCRIBE", "+switch-master"});
}

void SentinelLocator::watch_failed() {
  ++watch_index_;  // the next sentinel
  if (closing_ || ev_is_active(&watch_retry_)) return;
  ev_timer_set(&watch_retry_, watch_backoff_.next(), 0);
  ev_timer_start(loop_, &watch_retry_);
}

void SentinelLocator::on_watch_retry(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<SentinelLocator*>(w->data);
  if (!self->closing_ && !self->watch_ctx_) self->watch_connect();
}

void SentinelLocator::on_watch_connect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  if (self->closing_ || c != self->watch_ctx_ || status == REDIS_OK) return;
  self->watch_ctx_ = nullptr;
  self->watch_failed();
}

void SentinelLocator::on_watch_disconnect(const redisAsyncContext* c, int) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  if (self->closing_ || c != self->watch_ctx_) return;
  self->watch_ctx_ = nullptr;
  self->watch_failed();
}

void SentinelLocator::on_watch_message(redisAsyncContext* c, void* reply, void*) {
  auto* self = static_cast<SentinelLocator*>(c->data);
  const auto* r = static_cast<redisReply*>(reply);
  if (self->closing_ || c != self->watch_ctx_ || !r) return;
  if (r->type == REDIS_REPLY_ERROR) {  // NOAUTH and the like: try the next sentinel
    self->watch_ctx_ = nullptr;
    redisAsyncFree(c);
    return self->watch_failed();
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING) return;
  const std::string k(kind->str, kind->len);
  if (k == "subscribe") {
    self->watch_backoff_.reset();
    return;
  }
  if (k != "message" || r->element[2]->type != REDIS_REPLY_STRING) return;
  auto s = parse_switch_master(std::string(r->element[2]->str, r->element[2]->len));
  if (!s || s->master != self->url_.master) return;
  self->switched_to_ = s->to;
  self->switched_at_ = ev_now(self->loop_);
  if (self->on_switch_) self->on_switch_(*s);
}

}  // namespace rtpush
