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
  ring_[(head_ + count_) % capacity_] = std::move(frame);
  ++count_;
  bytes_ += n;
  return bytes_ > limit_ / 2 ? SendResult::Backpressure : SendResult::Queued;
}

void SendQueue::pop() {
  bytes_ -= ring_[head_]->size();
  ring_[head_] = FrameRef();
  head_ = (head_ + 1) % capacity_;
  if (--count_ == 0) {
    head_ = 0;
    if (capacity_ > kKeepCapacity) clear();
  }
}

void SendQueue::clear() {
  ring_.reset();
  capacity_ = head_ = count_ = 0;
  bytes_ = 0;
}

void SendQueue::grow() {
  const std::uint32_t cap = capacity_ ? capacity_ * 2 : 4;
  std::unique_ptr<FrameRef[]> ring(new FrameRef[cap]);
  for (std::uint32_t i = 0; i < count_; ++i) ring[i] = std::move(ring_[(head_ + i) % capacity_]);
  ring_ = std::move(ring);
  capacity_ = cap;
  head_ = 0;
}

}  // namespace rtpush
