// File-system steps the store is built from: atomic replacement (temp file, fsync, rename,
// fsync of the directory), whole-file flock()s, and errors that name the path and the cause.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nagare {

// "<path>: <what>: <strerror(err)>", with advice for a full disk or a read-only file system.
std::string file_error(const std::string& path, std::string_view what, int err);

// Writes `content` to `path` through a temporary file in the same directory, so readers see the
// old file or the new one, never a mix; the temporary file is removed on failure.
void write_file_atomically(const std::string& path, std::string_view content);

// fsync()s a directory so a rename or unlink in it survives a crash.
void fsync_directory(const std::string& dir);

// Creates `dir` and its parents (mode 0755); throws Error naming the path.
void make_directories(const std::string& dir);

// Reads a whole (small) file; throws Error naming the path.
std::string read_small_file(const std::string& path, size_t max_bytes = 16u << 20);

// Bytes available to an unprivileged writer on the file system holding `path`; UINT64_MAX when
// unknown.
uint64_t free_bytes(const std::string& path);

// "93.8 MiB" style.
std::string format_bytes(uint64_t n);

// An exclusive flock() on a file, released by the destructor. The file is created if missing
// and never deleted by the lock.
class FileLock {
 public:
  // Blocks until the lock is held; throws Error when the file cannot be opened.
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace nagare
