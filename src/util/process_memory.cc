#include "util/process_memory.h"

#include <unistd.h>

#include <fstream>

namespace nagare {

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * size_t(sysconf(_SC_PAGESIZE));
}

}  // namespace nagare
