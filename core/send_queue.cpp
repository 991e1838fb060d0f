#include "send_queue.h"

#include <utility>

namespace rtpush {

namespace {
// Storage kept after the queue drains; larger rings are given back so a
// burst does not pin memory on a connection that then goes idle.
constexpr std::uint32_t kKeepCapacity = 16;
}  // namespace

SendResult SendQueue::push(FrameRef frame) {
  const std::size_t n = frame->size();
  if (count_ > 0 && bytes_ + n > limit_) return SendResult::Dropped;
  if (count_ == capacity_) grow();
  slots()[(head_ + count_) % capacity_] = std::move(frame);
  ++count_;
  bytes_ += n;
  return bytes_ > limit_ / 2 ? SendResult::Backpressure : SendResult::Queued;
}

void SendQueue::pop() {
  FrameRef* ring = slots();
  bytes_ -= ring[head_]->size();
  ring[head_] = FrameRef();
  head_ = (head_ + 1) % capacity_;
  if (--count_ == 0) {
    head_ = 0;
    if (capacity_ > kKeepCapacity) clear();
  }
}

void SendQueue::clear() {
  ring_.reset();
  one_ = FrameRef();
  capacity_ = 1;
  head_ = count_ = 0;
  bytes_ = 0;
}

void SendQueue::grow() {
  // From the inline slot straight to 4: a queue that holds two frames
  // at once is busy and will likely hold more.
  const std::uint32_t cap = ring_ ? capacity_ * 2 : 4;
  std::unique_ptr<FrameRef[]> ring(new FrameRef[cap]);
  FrameRef* old = slots();
  for (std::uint32_t i = 0; i < count_; ++i) ring[i] = std::move(old[(head_ + i) % capacity_]);
  ring_ = std::move(ring);
  capacity_ = cap;
  head_ = 0;
}

}  // namespace rtpush
