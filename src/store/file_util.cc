#include "store/file_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "store/model_store.h"
#include "util/error.h"

namespace nagare {

std::string file_error(const std::string& path, std::string_view what, int err) {
  std::string msg = path + ": " + std::string(what) + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) msg += " (free some space, or point NAGARE_MODELS at a larger disk)";
  else if (err == EROFS || err == EACCES || err == EPERM) msg += " (is NAGARE_MODELS writable?)";
  return msg;
}

void fsync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself has happened
  ::fsync(fd);
  ::close(fd);
}

void make_directories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory: " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) throw Error(dir + ": exists and is not a directory");
}

void write_file_atomically(const std::string& path, std::string_view content) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const std::string tmp = ModelStore::temp_path(dir, "write");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(file_error(tmp, "cannot create", errno));
  auto fail = [&](const char* what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(file_error(path, what, err));
  };
  for (size_t off = 0; off < content.size();) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno);
    }
    off += size_t(n);
  }
  if (::fsync(fd) != 0) fail("cannot sync", errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(file_error(path, "cannot write", err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(file_error(path, "cannot replace", err));
  }
  fsync_directory(dir);
}

std::string read_small_file(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(file_error(path, "cannot open", errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw Error(file_error(path, "cannot read", err));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      throw Error(path + ": larger than " + format_bytes(max_bytes) + "; not a manifest");
    }
  }
  ::close(fd);
  return out;
}

uint64_t free_bytes(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return UINT64_MAX;
  return uint64_t(st.f_bavail) * uint64_t(st.f_frsize);
}

std::string format_bytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double x = double(n);
  int u = 0;
  while (x >= 1024 && u < 4) x /= 1024, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
  else std::snprintf(buf, sizeof buf, "%.1f %s", x, kUnits[u]);
  return buf;
}

FileLock::FileLock(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(file_error(path, "cannot open lock file", errno));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd_);
    throw Error(file_error(path, "cannot lock", err));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace nagare
