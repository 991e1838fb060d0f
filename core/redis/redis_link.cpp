#include "redis_link.h"

#include <hiredis/adapters/libev.h>

#include <algorithm>

#include "redis_argv.h"
#include "redis_blocking.h"
#include "sentinel_replies.h"

namespace rtpush {

namespace {

int argv_command(redisAsyncContext* c, redisCallbackFn* fn, void* priv, const std::vector<std::string>& args) {
  RedisArgv a(args);  // not const: some hiredis 0.14 calls take const char**
  return redisAsyncCommandArgv(c, fn, priv, a.count(), a.argv.data(), a.lens.data());
}

}  // namespace

RedisLink::RedisLink(struct ev_loop* loop, RedisAddress address, std::string name, Events events)
    : loop_(loop), address_(std::move(address)), name_(std::move(name)), events_(std::move(events)) {
  std::replace_if(name_.begin(), name_.end(), [](char ch) { return ch <= ' '; }, '_');
  ev_timer_init(&retry_, &RedisLink::on_retry, 0, 0);
  retry_.data = this;
}

RedisLink::RedisLink(struct ev_loop* loop, std::shared_ptr<RedisLocator> locator, std::string name, Events events)
    : RedisLink(loop, RedisAddress{}, std::move(name), std::move(events)) {
  locator_ = std::move(locator);
  // Each attempt asks the sentinels (cheap), which name the promoted
  // replica before they announce +switch-master: trying at least twice a
  // second finds it within half a second of that.
  backoff_ = Backoff(Backoff::kMinSecs, kLocatedMaxBackoffSecs);
}

RedisLink::~RedisLink() {
  closing_ = true;
  ev_timer_stop(loop_, &retry_);
  redisAsyncContext* c = ctx_;
  ctx_ = nullptr;
  connected_ = false;
  if (c) redisAsyncFree(c);  // runs pending callbacks with no reply
}

void RedisLink::start() {
  if (!ctx_ && !locating_ && !ev_is_active(&retry_)) connect();
}

void RedisLink::connect() {
  if (!locator_) return connect_to(address_);
  locating_ = true;
  std::weak_ptr<RedisLink*> alive = alive_;
  locator_->locate([alive](std::optional<RedisAddress> server, const std::string& why) {
    auto self = alive.lock();
    if (!self) return;
    RedisLink* link = *self;
    link->locating_ = false;
    if (link->closing_ || link->ctx_) return;
    if (!server) return link->failed(why);
    link->connect_to(*server);
  });
}

void RedisLink::connect_to(const RedisAddress& address) {
  address_ = address;
  redisAsyncContext* c = redisAsyncConnect(address_.host.c_str(), address_.port);
  if (!c || c->err) {
    const std::string why = c ? c->errstr : "out of memory";
    if (c) redisAsyncFree(c);
    return failed(why);
  }
  ctx_ = c;
  c->data = this;
  redisLibevAttach(loop_, c);
  redisAsyncSetConnectCallback(c, &RedisLink::on_connect);
  redisAsyncSetDisconnectCallback(c, &RedisLink::on_disconnect);
}

void RedisLink::on_connect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisLink*>(c->data);
  if (self->closing_ || c != self->ctx_) return;
  if (status != REDIS_OK) {  // hiredis frees it after this callback
    self->ctx_ = nullptr;
    return self->failed(c->errstr);
  }
  // Up only once Redis has taken the credentials and the database: AUTH
  // (or a PING, which a server wanting a password answers NOAUTH), the
  // name, SELECT, pipelined; the last reply opens the link, the first
  // error closes it with Redis's own words as the cause (never the
  // password: Redis does not echo it).
  auto* ctx = const_cast<redisAsyncContext*>(c);
  const RedisAddress& a = self->address_;
  std::vector<std::string> hello{"PING"};
  if (!a.password.empty()) hello = a.user.empty() ? std::vector<std::string>{"AUTH", a.password}
                                                  : std::vector<std::string>{"AUTH", a.user, a.password};
  const bool select = a.db != 0, role = self->locator_ && self->locator_->wants_master();
  auto step = [](std::intptr_t s, bool last) { return reinterpret_cast<void*>(last ? s | kHelloLast : s); };
  argv_command(ctx, &RedisLink::on_hello, step(kHelloAuth, !select && !role), hello);
  argv_command(ctx, nullptr, nullptr, {"CLIENT", "SETNAME", self->name_});
  if (select) argv_command(ctx, &RedisLink::on_hello, step(kHelloSelect, !role), {"SELECT", std::to_string(a.db)});
  if (role) argv_command(ctx, &RedisLink::on_hello, step(kHelloRole, true), {"ROLE"});
}

void RedisLink::on_hello(redisAsyncContext* c, void* reply, void* priv) {
  auto* self = static_cast<RedisLink*>(c->data);
  if (self->closing_ || c != self->ctx_) return;  // dropped meanwhile: no reply to judge
  const auto flags = reinterpret_cast<std::intptr_t>(priv);
  const std::intptr_t step = flags & ~kHelloLast;
  const auto* r = static_cast<redisReply*>(reply);
  if (!r) return;  // the disconnect callback tells
  if (step == kHelloRole && r->type != REDIS_REPLY_ERROR) {
    const std::string role = role_of(r);
    if (role != "master") {
      self->locator_->not_master(self->address_);
      return self->reject("redis " + self->address_.host_port() + " is not a master (ROLE: " +
                          (role.empty() ? "no answer" : role) + "): locating the master again");
    }
  }
  if (r->type == REDIS_REPLY_ERROR) {
    const std::string said(r->str, r->len);
    std::string why;
    if (step == kHelloRole)
      why = "redis " + self->address_.host_port() + " refused ROLE: " + said;
    else if (step == kHelloSelect)
      why = "redis refused SELECT " + std::to_string(self->address_.db) + ": " + said;
    else if (self->address_.password.empty())
      why = "redis refused the connection without a password: " + said;
    else
      why = "redis refused AUTH" + std::string(self->address_.user.empty() ? "" : " for user " + self->address_.user) +
            ": " + said;
    return self->reject(why);
  }
  if (!(flags & kHelloLast)) return;
  self->connected_ = true;
  self->backoff_.reset();
  if (self->events_.up) self->events_.up();
}

void RedisLink::on_disconnect(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisLink*>(c->data);
  if (self->closing_ || c != self->ctx_) return;  // freed by us: nothing to retry
  self->ctx_ = nullptr;
  self->connected_ = false;
  self->failed(status == REDIS_OK ? "the connection was closed" : c->errstr);
}

void RedisLink::failed(const std::string& why) {
  connected_ = false;
  if (!closing_ && !ev_is_active(&retry_)) {
    ev_timer_set(&retry_, backoff_.next(), 0);
    ev_timer_start(loop_, &retry_);
  }
  if (events_.down) events_.down(why);
}

void RedisLink::drop() { reject("dropped with its companion link"); }

void RedisLink::relocate() {
  if (closing_) return;
  backoff_.reset();
  if (ctx_) reject("the master moved");
  if (locating_ || ctx_) return;
  ev_timer_stop(loop_, &retry_);
  connect();
}

void RedisLink::reject(const std::string& why) {
  redisAsyncContext* c = ctx_;
  if (!c) return;
  ctx_ = nullptr;  // its callbacks from now on are not this link's
  connected_ = false;
  redisAsyncFree(c);  // pending callbacks run with no reply; freed now (or when the callback it is in returns)
  failed(why);
}

void RedisLink::on_retry(struct ev_loop*, ev_timer* w, int) {
  auto* self = static_cast<RedisLink*>(w->data);
  if (!self->closing_ && !self->ctx_ && !self->locating_) self->connect();
}

void RedisLink::on_reply(redisAsyncContext*, void* reply, void* priv) {
  auto* done = static_cast<Reply*>(priv);
  (*done)(static_cast<redisReply*>(reply));
  delete done;
}

void RedisLink::command(const std::vector<std::string>& args, Reply done) {
  auto* req = new Reply(std::move(done));
  if (!connected_ || argv_command(ctx_, &RedisLink::on_reply, req, args) != REDIS_OK) {
    (*req)(nullptr);  // as hiredis answers on a disconnect
    delete req;
  }
}

void RedisLink::on_push(redisAsyncContext* c, void* reply, void*) {
  auto* self = static_cast<RedisLink*>(c->data);
  if (!reply || self->closing_ || c != self->ctx_ || !self->on_push_) return;
  self->on_push_(static_cast<redisReply*>(reply));
}

void RedisLink::push_command(const std::vector<std::string>& args) {
  if (connected_) argv_command(ctx_, &RedisLink::on_push, nullptr, args);
}

bool blocking_commands(const RedisAddress& address, const std::vector<std::vector<std::string>>& commands,
                       int timeout_ms) {
  std::string why;  // the caller only needs to know it did not work
  const BlockingRedis c = blocking_connect(address, timeout_ms / 1000.0, &why);
  bool ok = c != nullptr;
  for (std::size_t i = 0; ok && i < commands.size(); ++i) {
    const RedisReplyPtr r = blocking_command(c.get(), commands[i]);
    ok = r && r->type != REDIS_REPLY_ERROR;
  }
  return ok;
}

}  // namespace rtpush
