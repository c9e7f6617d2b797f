// ZeroedPages: a buffer of zero bytes taken from the kernel as an anonymous private mapping. A
// page becomes resident only when first written, so a buffer sized for the worst case (a KV
// cache for peak concurrency) costs the memory actually used, and no time to zero-fill up front.
#pragma once

#include <cstddef>

namespace nagare {

class ZeroedPages {
 public:
  ZeroedPages() = default;
  // Throws std::bad_alloc when the mapping cannot be made.
  explicit ZeroedPages(size_t bytes);
  ZeroedPages(ZeroedPages&& o) noexcept { *this = static_cast<ZeroedPages&&>(o); }
  ZeroedPages& operator=(ZeroedPages&& o) noexcept;
  ZeroedPages(const ZeroedPages&) = delete;
  ZeroedPages& operator=(const ZeroedPages&) = delete;
  ~ZeroedPages();

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nagare
