#include "store/model_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "gguf/gguf_file.h"
#include "store/file_util.h"
#include "store/modelfile.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace fs = std::filesystem;

namespace {

constexpr const char* kTempPrefix = ".tmp-";

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// ".tmp-<pid>-<n>-<purpose>" made by a process that no longer runs.
bool is_stale_temp(const std::string& file_name) {
  if (!has_prefix(file_name, kTempPrefix)) return false;
  const char* p = file_name.c_str() + std::char_traits<char>::length(kTempPrefix);
  char* end = nullptr;
  long pid = std::strtol(p, &end, 10);
  if (end == p || *end != '-' || pid <= 0) return false;
  return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
}

bool is_blob_file_name(const std::string& n) {
  return n.size() == 7 + 64 && has_prefix(n, "sha256-") && is_valid_digest("sha256:" + n.substr(7));
}

// FROM names a file (rather than a store name) when it looks like a path or names a file that
// exists next to the Modelfile.
bool from_is_path(const Modelfile& mf, std::string& path) {
  const std::string& f = mf.from;
  std::string p = f;
  if (has_prefix(f, "~/")) {
    const char* home = std::getenv("HOME");
    p = std::string(home ? home : "") + f.substr(1);
  } else if (!f.empty() && f[0] != '/') {
    p = (fs::path(mf.base_dir) / f).string();
  }
  std::string lower = f;
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::error_code ec;
  const bool looks_like_path = has_prefix(f, "/") || has_prefix(f, "./") || has_prefix(f, "../") || has_prefix(f, "~/") ||
                               (lower.size() > 5 && lower.substr(lower.size() - 5) == ".gguf");
  if (looks_like_path || fs::is_regular_file(p, ec)) {
    path = p;
    return true;
  }
  return false;
}

}  // namespace

StagedBlob& StagedBlob::operator=(StagedBlob&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_ = std::move(o.path_);
    digest_ = std::move(o.digest_);
    size_ = o.size_;
    o.path_.clear();
  }
  return *this;
}

StagedBlob::~StagedBlob() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

ModelStore::ModelStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty()) throw Error("the model store directory is empty: set NAGARE_MODELS to a directory");
}

std::string ModelStore::default_root() {
  if (const char* env = std::getenv("NAGARE_MODELS"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.nagare/models";
  throw Error("neither NAGARE_MODELS nor HOME is set: set NAGARE_MODELS to the model store's directory");
}

std::string ModelStore::temp_path(const std::string& dir, std::string_view purpose) {
  static std::atomic<uint64_t> counter{0};
  return dir + "/" + kTempPrefix + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::string(purpose);
}

std::string ModelStore::blob_path(std::string_view digest) const {
  if (!is_valid_digest(digest)) throw Error("invalid weights digest '" + std::string(digest.substr(0, 80)) + "'");
  return blobs_dir() + "/sha256-" + std::string(digest.substr(7));
}

std::string ModelStore::manifest_path(const ModelName& name) const {
  return root_ + "/manifests/" + name.manifest_relpath();
}

void ModelStore::ensure_layout() const {
  make_directories(root_);
  make_directories(blobs_dir());
  make_directories(root_ + "/manifests");
}

std::optional<StoredModel> ModelStore::read_model(const ModelName& name, bool check_blob) const {
  const std::string path = manifest_path(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw Error(file_error(path, "cannot read", errno));
  }
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a manifest file");
  StoredModel m;
  m.name = name;
  m.manifest = Manifest::from_json(read_small_file(path), path);
  m.weights_path = blob_path(m.manifest.weights_digest);
  m.modified_unix = int64_t(st.st_mtime);
  if (check_blob) {
    struct stat bs {};
    if (::stat(m.weights_path.c_str(), &bs) != 0 || !S_ISREG(bs.st_mode))
      throw Error("model " + quote_for_message(name.display()) + ": its weights (" + m.weights_path +
                  ") are missing from the store; pull or create it again");
    if (uint64_t(bs.st_size) != m.manifest.weights_size)
      throw Error("model " + quote_for_message(name.display()) + ": its weights (" + m.weights_path + ") have " +
                  std::to_string(bs.st_size) + " bytes, the manifest says " + std::to_string(m.manifest.weights_size) +
                  "; pull or create it again");
  }
  return m;
}

std::vector<StoredModel> ModelStore::list(std::vector<std::string>* problems) const {
  std::vector<StoredModel> out;
  const fs::path top = root_ + "/manifests";
  std::error_code ec;
  if (!fs::is_directory(top, ec)) return out;
  auto subdirs = [&](const fs::path& dir) {
    std::vector<fs::path> v;
    std::error_code e;
    for (fs::directory_iterator it(dir, e), end; !e && it != end; it.increment(e)) v.push_back(it->path());
    if (e && problems) problems->push_back(dir.string() + ": cannot list: " + e.message());
    return v;
  };
  for (const auto& host : subdirs(top))
    for (const auto& ns : subdirs(host))
      for (const auto& name : subdirs(ns))
        for (const auto& tag : subdirs(name)) {
          const std::string file = tag.filename().string();
          if (has_prefix(file, ".")) continue;  // temporary files
          const std::string text = host.filename().string() + "/" + ns.filename().string() + "/" +
                                   name.filename().string() + ":" + file;
          try {
            ModelName parsed = ModelName::parse(text);
            if (parsed.manifest_relpath() != host.filename().string() + "/" + ns.filename().string() + "/" +
                                                 name.filename().string() + "/" + file)
              throw Error(tag.string() + ": not where the store keeps the manifest of " + parsed.display());
            if (auto m = read_model(parsed, false)) out.push_back(std::move(*m));
          } catch (const Error& e) {
            if (problems) problems->push_back(std::string("skipped ") + e.what());
          }
        }
  std::sort(out.begin(), out.end(), [](const StoredModel& a, const StoredModel& b) {
    if (a.modified_unix != b.modified_unix) return a.modified_unix > b.modified_unix;
    return a.name.display() < b.name.display();
  });
  return out;
}

std::optional<StoredModel> ModelStore::find(const ModelName& name) const { return read_model(name, true); }

StoredModel ModelStore::resolve(std::string_view text) const {
  ModelName name = ModelName::parse(text);
  if (auto m = find(name)) return std::move(*m);
  std::string how = name.is_hugging_face() ? "`nagare pull " + name.display() + "` fetches it"
                                           : "`nagare list` shows what it holds; `nagare pull hf.co/OWNER/REPO` fetches "
                                             "a model, `nagare create` makes one from a Modelfile";
  throw Error("model " + quote_for_message(name.display()) + " not found in the store at " + root_ + ": " + how);
}

void ModelStore::publish(const ModelName& name, const Manifest& manifest, StagedBlob* blob) {
  ensure_layout();
  FileLock lock(root_ + "/.lock");
  if (blob && !blob->path().empty()) {
    if (blob->digest() != manifest.weights_digest)
      throw Error("internal: publishing blob " + blob->digest() + " under a manifest of " + manifest.weights_digest);
    const std::string dest = blob_path(blob->digest());
    struct stat st {};
    if (::stat(dest.c_str(), &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) == blob->size()) {
      ::unlink(blob->path().c_str());  // stored already (same digest): keep one copy
    } else if (::rename(blob->path().c_str(), dest.c_str()) != 0) {
      throw Error(file_error(dest, "cannot move the downloaded weights into place", errno));
    }
    blob->release();
    fsync_directory(blobs_dir());
  }
  struct stat st {};
  const std::string weights = blob_path(manifest.weights_digest);
  if (::stat(weights.c_str(), &st) != 0)
    throw Error("model " + quote_for_message(name.display()) + ": its weights " + manifest.weights_digest +
                " are not in the store");
  const std::string path = manifest_path(name);
  std::string replaced_digest;
  try {
    if (auto old = read_model(name, false)) replaced_digest = old->manifest.weights_digest;
  } catch (const Error&) {
    // a damaged manifest is simply replaced
  }
  make_directories(fs::path(path).parent_path().string());
  write_file_atomically(path, manifest.to_json());
  // The name's old weights may have lost their last user (a re-pull of a changed file).
  if (!replaced_digest.empty() && replaced_digest != manifest.weights_digest) collect_garbage_locked();
}

void ModelStore::remove(const ModelName& name) {
  const std::string path = manifest_path(name);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error("model " + quote_for_message(name.display()) + " not found in the store at " + root_ +
                " (`nagare list` shows what it holds)");
  FileLock lock(root_ + "/.lock");
  if (::unlink(path.c_str()) != 0) throw Error(file_error(path, "cannot delete", errno));
  // Empty tag/name/namespace/host directories go too, so list() and ls agree.
  fs::path dir = fs::path(path).parent_path();
  const fs::path top = root_ + "/manifests";
  for (int i = 0; i < 3 && dir != top; ++i, dir = dir.parent_path())
    if (::rmdir(dir.c_str()) != 0) break;
  fsync_directory(fs::path(path).parent_path().string());
  collect_garbage_locked();
}

void ModelStore::copy(const ModelName& from, const ModelName& to) {
  auto m = find(from);
  if (!m)
    throw Error("model " + quote_for_message(from.display()) + " not found in the store at " + root_ +
                " (`nagare list` shows what it holds)");
  Manifest copy = m->manifest;
  copy.created = utc_now_rfc3339();
  publish(to, copy);
}

StagedBlob ModelStore::stage_file(const std::string& gguf_path) {
  struct stat st {};
  if (::stat(gguf_path.c_str(), &st) != 0) throw Error(file_error(gguf_path, "cannot open", errno));
  if (S_ISDIR(st.st_mode)) throw Error(gguf_path + ": is a directory, not a .gguf file");
  if (!S_ISREG(st.st_mode)) throw Error(gguf_path + ": not a regular file");
  GgufFile::open(gguf_path);  // throws "<path>: invalid GGUF file: ..." before anything is copied
  ensure_layout();
  const uint64_t size = uint64_t(st.st_size);
  const uint64_t free = free_bytes(blobs_dir());
  if (free != UINT64_MAX && free < size)
    throw Error(gguf_path + ": needs " + format_bytes(size) + " in the model store, but " + blobs_dir() + " has " +
                format_bytes(free) + " free (free some space, or point NAGARE_MODELS at a larger disk)");

  int in = ::open(gguf_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw Error(file_error(gguf_path, "cannot open", errno));
  const std::string tmp = temp_path(blobs_dir(), "import");
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    ::close(in);
    throw Error(file_error(tmp, "cannot create", err));
  }
  StagedBlob staged(tmp, "", 0);  // removes the temporary file on any error below
  auto fail = [&](const std::string& msg) {
    ::close(in);
    ::close(out);
    throw Error(msg);
  };
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  uint64_t copied = 0;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(file_error(gguf_path, "cannot read", errno));
    }
    if (n == 0) break;
    hash.update(buf.data(), size_t(n));
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf.data() + off, size_t(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(file_error(blobs_dir(), "cannot store the model", errno));
      }
      off += w;
    }
    copied += uint64_t(n);
  }
  if (copied != size) fail(gguf_path + ": changed while it was being copied (" + std::to_string(copied) + " bytes, was " +
                           std::to_string(size) + ")");
  if (::fsync(out) != 0) fail(file_error(blobs_dir(), "cannot store the model", errno));
  ::close(in);
  if (::close(out) != 0) throw Error(file_error(blobs_dir(), "cannot store the model", errno));
  std::string digest = "sha256:" + hash.hex_digest();
  staged.release();
  return StagedBlob(tmp, digest, size);
}

Manifest ModelStore::create(const ModelName& name, const Modelfile& mf, bool allow_paths) {
  Manifest m;
  StagedBlob staged;
  std::string path;
  const std::string from_line = mf.from_line > 0 ? "FROM on line " + std::to_string(mf.from_line) + ": " : "FROM: ";
  if (is_valid_digest(mf.from)) {
    const std::string blob = blob_path(mf.from);
    struct stat st {};
    if (::stat(blob.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      throw Error(from_line + "blob " + mf.from + " is not in the store");
    try {
      GgufFile::open(blob);
    } catch (const Error& e) {
      throw Error(from_line + "blob " + mf.from + " is not a usable GGUF file: " + e.what());
    }
    m.weights_digest = mf.from;
    m.weights_size = uint64_t(st.st_size);
    m.source = mf.from;
  } else if (allow_paths && from_is_path(mf, path)) {
    staged = stage_file(path);
    m.weights_digest = staged.digest();
    m.weights_size = staged.size();
    std::error_code ec;
    fs::path abs = fs::absolute(path, ec);
    m.source = "file:" + (ec ? path : abs.lexically_normal().string());
  } else {
    ModelName base_name;
    try {
      base_name = ModelName::parse(mf.from);
    } catch (const Error& e) {
      throw Error(from_line + e.what());
    }
    auto base = find(base_name);
    if (!base)
      throw Error(from_line + "model " + quote_for_message(base_name.display()) + " is not in the store (" +
                  (allow_paths ? "`nagare pull` it first, or FROM ./file.gguf imports a file)"
                               : "pull it first; over HTTP, FROM names a stored model or blob, never a file)"));
    m = base->manifest;
    m.source = base_name.display();
  }
  if (mf.template_text) m.template_text = mf.template_text;
  if (mf.system) m.system = mf.system;
  if (mf.license) m.license = mf.license;
  for (const auto& [key, value] : mf.parameters.items()) m.parameters[key] = value;
  if (!mf.messages.empty()) m.messages = mf.messages;
  m.created = utc_now_rfc3339();
  publish(name, m, staged.path().empty() ? nullptr : &staged);
  return m;
}

size_t ModelStore::collect_garbage() {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return 0;
  FileLock lock(root_ + "/.lock");
  return collect_garbage_locked();
}

size_t ModelStore::collect_garbage_locked() {
  std::vector<std::string> problems;
  std::set<std::string> referenced;
  for (const auto& m : list(&problems)) referenced.insert("sha256-" + m.manifest.digest_hex());
  std::error_code ec;
  // Stale temporary manifest files, left by a process that died between write and rename.
  for (fs::recursive_directory_iterator it(root_ + "/manifests", ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_stale_temp(it->path().filename().string())) ::unlink(it->path().c_str());
  size_t removed = 0;
  for (fs::directory_iterator it(blobs_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (is_stale_temp(n)) {
      ::unlink(it->path().c_str());
    } else if (problems.empty() && is_blob_file_name(n) && !referenced.count(n)) {
      if (::unlink(it->path().c_str()) == 0) ++removed;
    }
  }
  if (removed) fsync_directory(blobs_dir());
  return removed;
}

}  // namespace nagare
