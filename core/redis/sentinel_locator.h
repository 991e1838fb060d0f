// SentinelLocator: the master a redis+sentinel:// URL names, found by
// asking its sentinels (SENTINEL get-master-addr-by-name MASTER), one after
// the other, each within kAskTimeoutSecs, starting with the one that
// answered last. Concurrent locate() calls share one round of questions.
// The answer is the master with the URL's user, password and database
// (RedisUrl::server()); sentinels get redis-sentinel-password (AUTH).
//
// It also keeps one pub/sub connection to a sentinel, subscribed to
// +switch-master (the next sentinel when it drops, after a backoff): a
// switch of this master calls on_switch, whose owner drops its links so
// they connect again, locating the new master.
//
// I/O thread only (hiredis async on its libev loop); no blocking I/O.
#pragma once
#include <hiredis/async.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backoff.h"
#include "ev_loop.h"
#include "redis_locator.h"
#include "sentinel_replies.h"

namespace rtpush {

class SentinelLocator final : public RedisLocator {
 public:
  static constexpr double kAskTimeoutSecs = 0.5;
  // `on_switch` (may be empty): the sentinels moved this master from -> to.
  SentinelLocator(struct ev_loop* loop, RedisUrl url, std::string client_name,
                  std::function<void(const MasterSwitch&)> on_switch);
  ~SentinelLocator() override;  // pending locate() calls are answered (nullopt)
  SentinelLocator(const SentinelLocator&) = delete;
  SentinelLocator& operator=(const SentinelLocator&) = delete;

  void locate(Found done) override;
  bool wants_master() const override { return true; }
  // The next round starts with the next sentinel (this one's answer was
  // stale), and a +switch-master naming `server` is no longer trusted.
  void not_master(const RedisAddress& server) override;
  // Starts watching +switch-master (once; the first locate() does it too).
  void watch();

 private:
  // One round of questions: the sentinel asked now.
  void ask(std::size_t nth);
  void asked(std::size_t nth, SentinelAnswer answer);  // ends the current question
  void finish(std::optional<RedisAddress> server, const std::string& why);
  void close_ask();
  static void on_ask_connect(const redisAsyncContext* c, int status);
  static void on_ask_disconnect(const redisAsyncContext* c, int status);
  static void on_ask_auth(redisAsyncContext* c, void* reply, void* priv);
  static void on_ask_reply(redisAsyncContext* c, void* reply, void* priv);
  static void on_ask_timeout(struct ev_loop* loop, ev_timer* w, int revents);

  void watch_connect();
  void watch_failed();
  static void on_watch_connect(const redisAsyncContext* c, int status);
  static void on_watch_disconnect(const redisAsyncContext* c, int status);
  static void on_watch_message(redisAsyncContext* c, void* reply, void* priv);
  static void on_watch_retry(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* loop_;
  RedisUrl url_;
  std::string name_;
  std::function<void(const MasterSwitch&)> on_switch_;
  bool closing_ = false;

  std::vector<Found> waiting_;  // locate() calls the current round answers
  std::size_t first_ = 0;       // the sentinel a round starts with (the last that answered)
  std::size_t asked_ = 0;       // how many of this round's were asked
  std::vector<SentinelFailure> failures_;
  std::string auth_refused_;    // the current sentinel refused AUTH: its words
  redisAsyncContext* ask_ctx_ = nullptr;
  ev_timer ask_timer_{};

  // The master a +switch-master just named: the next round answers it
  // without asking (other sentinels may still name the old one for a
  // second); ROLE on the link checks it.
  // Trusted for kSwitchTrustSecs after the message.
  static constexpr double kSwitchTrustSecs = 5;
  std::optional<RedisEndpoint> switched_to_;
  double switched_at_ = 0;
  bool watching_ = false;
  std::size_t watch_index_ = 0;
  redisAsyncContext* watch_ctx_ = nullptr;
  Backoff watch_backoff_;
  ev_timer watch_retry_{};
};

}  // namespace rtpush
