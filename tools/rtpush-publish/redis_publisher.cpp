#include "redis_publisher.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

#include "cluster_locator.h"
#include "redis_argv.h"
#include "redis_scripts.h"

namespace {
constexpr std::size_t kWindow = 1000;  // commands sent before waiting for answers
constexpr int kMaxRedirects = 16;      // MOVED/ASK hops for one message (a reshard moves a slot once)
constexpr auto kRetryPause = std::chrono::milliseconds(100);  // TRYAGAIN, CLUSTERDOWN, a master being replaced

std::string_view text_of(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, r->len) : std::string_view();
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

void append_command(redisContext* c, const std::vector<std::string>& args) {
  rtpush::RedisArgv a(args);  // not const: some hiredis 0.14 calls take const char**
  redisAppendCommandArgv(c, a.count(), a.argv.data(), a.lens.data());
}

// SCRIPT LOAD on `c`: the sha, or "" with *why.
std::string load_script(redisContext* c, std::string* why) {
  const rtpush::RedisReplyPtr r = rtpush::blocking_command(c, {"SCRIPT", "LOAD", rtpush::redis::kPublishScript});
  if (!r || r->type != REDIS_REPLY_STRING) {
    *why = std::string("redis: cannot load the publish script: ") + (r && r->str ? r->str : c->errstr);
    return "";
  }
  return std::string(r->str, r->len);
}

}  // namespace

bool cluster_retry_error(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ERROR) return false;
  const std::string_view t = text_of(r);
  return starts_with(t, "MOVED ") || starts_with(t, "ASK ") || starts_with(t, "TRYAGAIN") ||
         starts_with(t, "CLUSTERDOWN");
}

RedisPublisher::RedisPublisher(std::string channel, long history_size, double timeout_secs, Result on_result)
    : channel_(std::move(channel)), history_(history_size), timeout_(timeout_secs),
      on_result_(std::move(on_result)) {}

RedisPublisher::~RedisPublisher() = default;

bool RedisPublisher::connect(const rtpush::RedisUrl& url, std::string* why) {
  url_ = url;
  if (url.topology != rtpush::RedisTopology::Cluster) return open(url.single(), why);
  keys_ = rtpush::RedisKeys::cluster();
  rtpush::RedisAddress master;
  return locate(&master, why) && open(master, why);
}

bool RedisPublisher::connect(const rtpush::RedisAddress& server, std::string* why) {
  url_ = rtpush::RedisUrl{};
  url_.hosts = {{server.host, server.port}};
  url_.db = server.db;
  url_.user = server.user;
  url_.password = server.password;
  return open(server, why);
}

bool RedisPublisher::locate(rtpush::RedisAddress* master, std::string* why) {
  slots_ = fetch_slot_map(url_, slots_ ? slots_->masters() : std::vector<rtpush::cluster::Node>{}, timeout_, why);
  if (!slots_) return false;
  const int slot = rtpush::cluster::key_slot(keys_.stream(channel_));
  const rtpush::cluster::Shard* shard = slots_->shard_of(slot);
  if (!shard) {
    *why = "redis cluster: no master serves slot " + std::to_string(slot) + " (channel " + channel_ +
           "): the cluster is down for it";
    return false;
  }
  *master = url_.server(shard->master.host, shard->master.port);
  return true;
}

bool RedisPublisher::open(const rtpush::RedisAddress& a, std::string* why) {
  ctx_ = rtpush::blocking_connect(a, timeout_, why);
  if (!ctx_) return false;
  at_ = a;
  auto run = [&](const std::vector<std::string>& args) { return rtpush::blocking_command(ctx_.get(), args); };
  const std::string config = keys_.config(keys_.bucket(channel_));
  if (!settings_read_) {
    if (history_ < 0) {  // trim as the nodes do: they record their history-size
      const rtpush::RedisReplyPtr r = run({"HGET", config, "history-size"});
      history_ = r && r->type == REDIS_REPLY_STRING ? std::atol(r->str) : 1000;
    }
    {  // expire as the nodes do: they record their history-ttl-secs
      const rtpush::RedisReplyPtr r = run({"HGET", config, "history-ttl-secs"});
      const long secs = r && r->type == REDIS_REPLY_STRING ? std::atol(r->str) : 86400;
      ttl_ms_ = std::to_string(static_cast<unsigned long long>(secs > 0 ? secs : 0) * 1000);
    }
    settings_read_ = true;
  }
  sha_ = load_script(ctx_.get(), why);
  if (sha_.empty()) ctx_.reset();
  return !sha_.empty();
}

std::vector<std::string> RedisPublisher::command(const std::string& json) const {
  const int bucket = keys_.bucket(channel_);
  std::vector<std::string> args = {"EVALSHA", sha_, "6", keys_.stream(channel_), keys_.epoch(bucket),
                                   keys_.trimmed(channel_), keys_.persist(bucket), keys_.config(bucket),
                                   // the script reads the nodes' bound
                                   keys_.bytes(channel_), std::to_string(history_), "j", json,
                                   keys_.live(channel_), channel_, ttl_ms_,
                                   // Who publishes: this tool cannot tell whether nodes with PostgreSQL
                                   // exist, so the script refuses it on a data set no node has configured.
                                   // No history-channel-bytes: the script reads the nodes' bound.
                                   ""};
  if (keys_.clustered()) {  // as the nodes publish in a cluster: no bound given, no user, SPUBLISH
    args.insert(args.end(), {"", "", keys_.publish_command()});
  }
  return args;
}

bool RedisPublisher::publish(const std::string& json) {
  if (broken_) {
    if (!keys_.clustered()) {
      on_result_(false, "redis connection lost");
      return false;
    }
    // A master died (or a node left): its slots get a new master within
    // the cluster's node timeout; find it, within --timeout.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
    std::string why;
    rtpush::RedisAddress master;
    while (!(locate(&master, &why) && open(master, &why))) {
      if (std::chrono::steady_clock::now() >= deadline) {
        on_result_(false, why);
        return false;
      }
      std::this_thread::sleep_for(kRetryPause);
    }
    broken_ = false;
  }
  append_command(ctx_.get(), command(json));
  in_flight_.push_back(json);
  if (in_flight_.size() >= kWindow) return read_one();
  return true;
}

void RedisPublisher::lost(const std::string& why) {
  broken_ = true;
  const std::string maybe = keys_.clustered() ? " (it may have been published)" : "";
  for (std::size_t n = in_flight_.size(); n > 0; --n) {
    in_flight_.pop_front();
    on_result_(false, "redis connection lost: " + why + maybe);
  }
}

bool RedisPublisher::read_one() {
  redisReply* raw = nullptr;
  if (broken_ || redisGetReply(ctx_.get(), reinterpret_cast<void**>(&raw)) != REDIS_OK) {
    lost(ctx_ ? ctx_->errstr : "not connected");
    return false;
  }
  rtpush::RedisReplyPtr r(raw);
  if (keys_.clustered() && cluster_retry_error(r.get())) {
    redirected(std::move(r));
    return !broken_;
  }
  in_flight_.pop_front();
  report(r.get());
  return true;
}

void RedisPublisher::redirected(rtpush::RedisReplyPtr first) {
  // The answers of the others in flight: they went to the same node.
  std::vector<std::pair<std::string, rtpush::RedisReplyPtr>> answers;
  answers.emplace_back(std::move(in_flight_.front()), std::move(first));
  in_flight_.pop_front();
  while (!in_flight_.empty()) {
    redisReply* raw = nullptr;
    if (redisGetReply(ctx_.get(), reinterpret_cast<void**>(&raw)) != REDIS_OK) break;
    answers.emplace_back(std::move(in_flight_.front()), rtpush::RedisReplyPtr(raw));
    in_flight_.pop_front();
  }
  const std::string why = in_flight_.empty() ? "" : ctx_->errstr;
  std::deque<std::string> unanswered = std::move(in_flight_);
  in_flight_.clear();
  for (auto& [json, answer] : answers) {
    if (cluster_retry_error(answer.get())) follow(json, std::move(answer));
    else report(answer.get());
  }
  if (!unanswered.empty()) {
    in_flight_ = std::move(unanswered);
    lost(why);
  }
}

void RedisPublisher::follow(const std::string& json, rtpush::RedisReplyPtr answer) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  int hops = 0;
  std::string why;
  while (cluster_retry_error(answer.get())) {
    const std::string_view text = text_of(answer.get());
    const auto redirect = rtpush::cluster::parse_redirect(text);
    if (!redirect) {  // TRYAGAIN (a slot half-moved), CLUSTERDOWN (a master being replaced): later
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(kRetryPause);
      rtpush::RedisAddress master;
      if (starts_with(text, "CLUSTERDOWN") && !(locate(&master, &why) && open(master, &why))) continue;
      if (!ctx_) continue;
      answer = rtpush::blocking_command(ctx_.get(), command(json));
      continue;
    }
    if (++hops > kMaxRedirects) break;
    rtpush::cluster::Node to = redirect->to;
    if (to.host_unknown()) to.host = at_.host;  // "the host you asked"
    const rtpush::RedisAddress target = url_.server(to.host, to.port);
    if (redirect->kind == rtpush::cluster::Redirect::Kind::Moved) {
      if (slots_) slots_->moved(redirect->slot, to);
      // the messages behind this one were answered MOVED too: one new connection for all
      if ((!ctx_ || target.host_port() != at_.host_port()) && !open(target, &why)) {
        broken_ = true;
        on_result_(false, why);
        return;
      }
      answer = rtpush::blocking_command(ctx_.get(), command(json));
      continue;
    }
    // ASK: this one command on the importing node, after ASKING; the slot
    // stays the source's until the migration ends (then MOVED).
    if (!asked_ || asked_at_ != target.host_port()) {
      asked_ = rtpush::blocking_connect(target, timeout_, &why);
      asked_sha_ = asked_ ? load_script(asked_.get(), &why) : "";
      if (asked_sha_.empty()) {
        asked_.reset();
        on_result_(false, why);
        return;
      }
      asked_at_ = target.host_port();
    }
    std::vector<std::string> args = command(json);
    args[1] = asked_sha_;
    append_command(asked_.get(), {"ASKING"});
    append_command(asked_.get(), args);
    redisReply* ok = nullptr;
    redisReply* raw = nullptr;
    if (redisGetReply(asked_.get(), reinterpret_cast<void**>(&ok)) != REDIS_OK ||
        redisGetReply(asked_.get(), reinterpret_cast<void**>(&raw)) != REDIS_OK) {
      if (ok) freeReplyObject(ok);
      on_result_(false, std::string("redis connection lost: ") + asked_->errstr + " (it may have been published)");
      asked_.reset();
      return;
    }
    freeReplyObject(ok);
    answer.reset(raw);
  }
  if (!answer) {
    const std::string cause = ctx_ ? ctx_->errstr : why;
    lost(cause);
    on_result_(false, "redis connection lost: " + cause + " (it may have been published)");
    return;
  }
  if (!ctx_) broken_ = true;  // the next message locates the master again
  report(answer.get());
}

void RedisPublisher::report(const redisReply* r) {
  // The script's own refusals (PostgreSQL is behind; no node configured this
  // Redis yet): their message as it is.
  const std::string_view answer = text_of(r);
  std::size_t own = 0;
  for (const char* code : {rtpush::redis::kBacklogFullError, rtpush::redis::kUnconfiguredError})
    if (answer.substr(0, std::strlen(code) + 1) == std::string(code) + " ") own = std::strlen(code) + 1;
  if (r->type == REDIS_REPLY_STRING)
    on_result_(true, std::string(answer));
  else if (r->type == REDIS_REPLY_ERROR && own > 0)
    on_result_(false, std::string(answer.substr(own)));
  else
    on_result_(false, std::string("redis: ") + (r->str ? std::string(r->str, r->len) : "unexpected reply"));
}

bool RedisPublisher::finish() {
  bool ok = true;
  while (!in_flight_.empty()) ok = read_one() && ok;
  return ok;
}
