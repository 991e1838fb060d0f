// A hiredis reply from RESP text, read by hiredis's own reader: the tests
// feed the exact bytes a server sends. Test-only; one thread.
#pragma once
#include <hiredis/hiredis.h>

#include <memory>
#include <string_view>

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// The one whole reply `resp` holds; null when it is not exactly one reply.
inline ReplyPtr resp_reply(std::string_view resp) {
  redisReader* reader = redisReaderCreate();
  void* reply = nullptr;
  const bool read = redisReaderFeed(reader, resp.data(), resp.size()) == REDIS_OK &&
                    redisReaderGetReply(reader, &reply) == REDIS_OK && reply != nullptr;
  void* more = nullptr;
  const bool one = read && redisReaderGetReply(reader, &more) == REDIS_OK && more == nullptr;
  if (more) freeReplyObject(more);
  redisReaderFree(reader);
  if (!one) {
    if (reply) freeReplyObject(reply);
    return nullptr;
  }
  return ReplyPtr(static_cast<redisReply*>(reply));
}
