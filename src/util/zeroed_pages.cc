#include "util/zeroed_pages.h"

#include <sys/mman.h>

#include <new>
#include <utility>

namespace nagare {

ZeroedPages::ZeroedPages(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
  // Huge pages where the kernel has them: attention reads the KV cache's blocks in no order of
  // addresses, a few KiB from each, which with 4 KiB pages costs a page walk every few blocks.
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advisory: failure is fine
#endif
  data_ = p;
}

ZeroedPages& ZeroedPages::operator=(ZeroedPages&& o) noexcept {
  if (this != &o) {
    this->~ZeroedPages();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

ZeroedPages::~ZeroedPages() {
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace nagare
