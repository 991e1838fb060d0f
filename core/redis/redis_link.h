// RedisLink: one asynchronous hiredis connection on the I/O thread's libev
// loop, the counterpart of PgLink. It connects, names itself (CLIENT
// SETNAME, so CLIENT LIST shows whose connection is whose), selects the
// database, and after any failure connects again after a Backoff delay.
// With a RedisLocator (Sentinel) every connection attempt first asks it
// where to connect, and a locator that wants a master gets ROLE checked
// before the link is up: a replica is refused and located again.
// command() runs one command; its reply callback gets null when the link is
// down or goes down before the reply (hiredis answers pending commands so
// on a disconnect), so every callback runs exactly once.
//
// I/O thread only: every member is the I/O side's.
#pragma once
#include <hiredis/async.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ev_loop.h"
#include "backoff.h"
#include "redis_address.h"
#include "redis_locator.h"

namespace rtpush {

class RedisLink {
 public:
  using Reply = std::function<void(redisReply* reply)>;  // null: no reply (link down)
  struct Events {
    std::function<void()> up;    // connected, authenticated, named, database selected
    // A connection attempt failed or the link broke: hiredis's errstr, or
    // why the link was dropped.
    std::function<void(const std::string& why)> down;
  };

  RedisLink(struct ev_loop* loop, RedisAddress address, std::string name, Events events);
  // Located anew at every connection attempt (shared: a node's links ask
  // the same locator).
  RedisLink(struct ev_loop* loop, std::shared_ptr<RedisLocator> locator, std::string name, Events events);
  ~RedisLink();  // frees the connection: pending callbacks run with null first
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  void start();        // the first connection attempt
  bool up() const { return connected_; }
  // The server of the current (or last) connection.
  const RedisAddress& address() const { return address_; }
  // Drops the connection (another link of the same owner failed); the next
  // attempt follows after the backoff.
  void drop();
  // The master moved (+switch-master): closes the connection if any and
  // connects again now (located anew), not after the backoff an outage has
  // grown meanwhile.
  void relocate();

  void command(const std::vector<std::string>& args, Reply done);
  // A command whose replies keep coming (SUBSCRIBE, UNSUBSCRIBE): each goes
  // to `on_push` (set once), never null.
  void push_command(const std::vector<std::string>& args);
  void set_push_handler(Reply on_push) { on_push_ = std::move(on_push); }

 private:
  static void on_connect(const redisAsyncContext* c, int status);
  static void on_disconnect(const redisAsyncContext* c, int status);
  static void on_reply(redisAsyncContext* c, void* reply, void* priv);
  static void on_push(redisAsyncContext* c, void* reply, void* priv);
  // The replies to what a new connection sends first (AUTH or PING, SELECT,
  // ROLE when the locator wants a master); kHelloLast marks the last one.
  static constexpr double kLocatedMaxBackoffSecs = 0.5;
  static constexpr std::intptr_t kHelloAuth = 1, kHelloSelect = 2, kHelloRole = 3, kHelloLast = 8;
  static void on_hello(redisAsyncContext* c, void* reply, void* priv);
  void reject(const std::string& why);  // closes the connection: tell `why`, retry later
  static void on_retry(struct ev_loop* loop, ev_timer* w, int revents);
  void connect();
  void connect_to(const RedisAddress& address);
  void failed(const std::string& why);  // ctx_ is gone: tell, retry later

  struct ev_loop* loop_;
  RedisAddress address_;
  std::shared_ptr<RedisLocator> locator_;  // null: always address_
  bool locating_ = false;
  // Its weak copies in the locator's callbacks tell whether this link still lives.
  std::shared_ptr<RedisLink*> alive_ = std::make_shared<RedisLink*>(this);
  std::string name_;
  Events events_;
  Backoff backoff_;
  Reply on_push_;
  redisAsyncContext* ctx_ = nullptr;
  bool connected_ = false, closing_ = false;
  ev_timer retry_{};
};

// Commands, in order, on one short-lived blocking connection, for a backend
// being destroyed: its I/O thread's loop will not run again, so an async
// command would never be written. Gives up after `timeout_ms` (connect, and
// again for each reply). False when one did not get a reply that is not an
// error (the rest are not sent). Blocks the calling thread: only at
// shutdown, inside run_and_wait().
bool blocking_commands(const RedisAddress& address, const std::vector<std::vector<std::string>>& commands,
                       int timeout_ms);

// A reply's string (or status) as text; empty for any other reply, or none.
inline std::string text(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return std::string(r->str, r->len);
}

}  // namespace rtpush
