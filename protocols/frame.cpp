#include "frame.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace rtpush {

FrameRef Frame::make(std::string_view bytes, bool binary, bool compressed) {
  void* mem = std::malloc(sizeof(Frame) + kFrameHeadroom + bytes.size());
  if (!mem) throw std::bad_alloc();
  Frame* f = new (mem) Frame(bytes.size(), binary, compressed);
  if (!bytes.empty()) std::memcpy(f->data(), bytes.data(), bytes.size());
  return FrameRef(f);
}

void FrameRef::release() {
  if (f_ && --f_->refs_ == 0) {
    f_->~Frame();
    std::free(f_);
  }
  f_ = nullptr;
}

}  // namespace rtpush
