// How much memory this process holds, for the figures nagare prints after loading a model.
#pragma once

#include <cstddef>

namespace nagare {

// Resident set size in bytes (anonymous and file-backed pages), from /proc/self/statm; 0 where
// that file does not exist.
size_t resident_bytes();

// Physical memory of the machine in bytes (sysconf); 0 where unknown.
size_t physical_memory_bytes();

}  // namespace nagare
