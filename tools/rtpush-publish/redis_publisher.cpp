#include "redis_publisher.h"

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "redis_scripts.h"

namespace {
constexpr std::size_t kWindow = 1000;  // commands sent before waiting for answers
}

RedisPublisher::RedisPublisher(std::string channel, long history_size, double timeout_secs, Result on_result)
    : channel_(std::move(channel)), history_(history_size), timeout_(timeout_secs),
      on_result_(std::move(on_result)) {}

RedisPublisher::~RedisPublisher() = default;

bool RedisPublisher::connect(const rtpush::RedisAddress& a, std::string* why) {
  ctx_ = rtpush::blocking_connect(a, timeout_, why);
  if (!ctx_) return false;
  auto run = [&](const std::vector<std::string>& args) { return rtpush::blocking_command(ctx_.get(), args); };
  if (history_ < 0) {  // trim as the nodes do: they record their history-size
    const rtpush::RedisReplyPtr r = run({"HGET", rtpush::redis::kConfigKey, "history-size"});
    history_ = r && r->type == REDIS_REPLY_STRING ? std::atol(r->str) : 1000;
  }
  {  // expire as the nodes do: they record their history-ttl-secs
    const rtpush::RedisReplyPtr r = run({"HGET", rtpush::redis::kConfigKey, "history-ttl-secs"});
    const long secs = r && r->type == REDIS_REPLY_STRING ? std::atol(r->str) : 86400;
    ttl_ms_ = std::to_string(static_cast<unsigned long long>(secs > 0 ? secs : 0) * 1000);
  }
  const rtpush::RedisReplyPtr r = run({"SCRIPT", "LOAD", rtpush::redis::kPublishScript});
  if (!r || r->type != REDIS_REPLY_STRING) {
    *why = std::string("redis: cannot load the publish script: ") + (r && r->str ? r->str : ctx_->errstr);
    return false;
  }
  sha_.assign(r->str, r->len);
  return true;
}

bool RedisPublisher::publish(const std::string& json) {
  if (broken_) {
    on_result_(false, "redis connection lost");
    return false;
  }
  const std::string stream = rtpush::redis::kStreamPrefix + channel_;
  const std::string trimmed = rtpush::redis::kTrimmedPrefix + channel_;
  const std::string bytes = rtpush::redis::kBytesPrefix + channel_;  // the script reads the nodes' bound
  const std::string live = rtpush::redis::kLivePrefix + channel_;
  const std::string keep = std::to_string(history_);
  const char* argv[] = {"EVALSHA", sha_.c_str(), "6", stream.c_str(), rtpush::redis::kEpochKey, trimmed.c_str(),
                        rtpush::redis::kPersistKey, rtpush::redis::kConfigKey, bytes.c_str(), keep.c_str(), "j",
                        json.data(), live.c_str(), channel_.c_str(), ttl_ms_.c_str(),
                        // Who publishes: this tool cannot tell whether nodes with PostgreSQL
                        // exist, so the script refuses it on a data set no node has configured.
                        // No history-channel-bytes: the script reads the nodes' bound.
                        ""};
  constexpr int kArgs = sizeof argv / sizeof argv[0];
  size_t lens[kArgs];
  for (int i = 0; i < kArgs; ++i) lens[i] = std::char_traits<char>::length(argv[i]);
  lens[11] = json.size();  // the data: its length, not strlen
  redisAppendCommandArgv(ctx_.get(), kArgs, argv, lens);
  ++in_flight_;
  if (in_flight_ >= kWindow) return read_one();
  return true;
}

bool RedisPublisher::read_one() {
  redisReply* r = nullptr;
  if (broken_ || redisGetReply(ctx_.get(), reinterpret_cast<void**>(&r)) != REDIS_OK) {
    broken_ = true;
    --in_flight_;
    on_result_(false, std::string("redis connection lost: ") + ctx_->errstr);
    return false;
  }
  --in_flight_;
  // The script's own refusals (PostgreSQL is behind; no node configured this
  // Redis yet): their message as it is.
  const std::string_view answer = r->str ? std::string_view(r->str, r->len) : std::string_view();
  std::size_t own = 0;
  for (const char* code : {rtpush::redis::kBacklogFullError, rtpush::redis::kUnconfiguredError})
    if (answer.substr(0, std::strlen(code) + 1) == std::string(code) + " ") own = std::strlen(code) + 1;
  if (r->type == REDIS_REPLY_STRING)
    on_result_(true, std::string(answer));
  else if (r->type == REDIS_REPLY_ERROR && own > 0)
    on_result_(false, std::string(answer.substr(own)));
  else
    on_result_(false, std::string("redis: ") + (r->str ? std::string(r->str, r->len) : "unexpected reply"));
  freeReplyObject(r);
  return true;
}

bool RedisPublisher::finish() {
  bool ok = true;
  while (in_flight_ > 0) ok = read_one() && ok;
  return ok;
}
