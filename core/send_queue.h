// SendQueue: the frames waiting to be written to one connection, bounded in
// bytes. It holds references to shared frames, never copies of their bytes.
// Starts with no storage: one frame waits in an inline slot, so a connection
// that is sent one frame at a time (most, and every idle one) never
// allocates a ring; the ring is made only when two frames wait at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "frame.h"

namespace rtpush {

// What happened to a frame handed to a connection (uWebSockets style).
enum class SendResult : std::uint8_t {
  Queued,        // queued; the queue is below half its limit
  Backpressure,  // queued; the queue is past half its limit
  Dropped,       // not queued: the limit would be exceeded, or the connection is closing
};

class SendQueue {
 public:
  explicit SendQueue(std::size_t limit_bytes) : limit_(limit_bytes) {}
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // A frame larger than the whole limit is still accepted into an empty
  // queue, so one big message never wedges a connection that keeps up.
  SendResult push(FrameRef frame);

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t limit() const { return limit_; }
  const FrameRef& front() const { return slots()[head_]; }
  const FrameRef& at(std::size_t i) const { return slots()[(head_ + i) % capacity_]; }  // i < size()
  void pop();
  // Drops everything queued and returns the storage.
  void clear();

 private:
  void grow();
  // The ring when there is one, else the inline slot (capacity 1).
  FrameRef* slots() { return ring_ ? ring_.get() : &one_; }
  const FrameRef* slots() const { return ring_ ? ring_.get() : &one_; }
  std::unique_ptr<FrameRef[]> ring_;
  FrameRef one_;
  std::uint32_t capacity_ = 1;
  std::uint32_t head_ = 0;
  std::uint32_t count_ = 0;
  std::size_t bytes_ = 0;
  std::size_t limit_;
};

}  // namespace rtpush
