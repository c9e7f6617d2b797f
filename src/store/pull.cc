#include "store/pull.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "gguf/gguf_file.h"
#include "store/file_util.h"
#include "store/http_client.h"
#include "store/hugging_face.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

using Clock = std::chrono::steady_clock;
using ProgressFn = std::function<void(const PullProgress&)>;

constexpr int kMaxAttempts = 5;  // per pull, for connections that break after making progress
constexpr auto kProgressInterval = std::chrono::milliseconds(100);
constexpr auto kSpeedWindow = std::chrono::seconds(5);
constexpr auto kLockPoll = std::chrono::milliseconds(100);
constexpr size_t kHeadBytes = 24;

// One file to fetch and what the source says about it.
struct Target {
  std::string url;
  std::string display;  // for messages: hf.co/OWNER/REPO/FILE or the URL
  std::optional<uint64_t> size;
  std::string sha256;   // hex; empty when the source states none
  std::vector<std::string> headers;
};

Target resolve_target(const PullSource& src) {
  Target t;
  if (src.kind == PullSource::Kind::kUrl) {
    t.url = t.display = src.url;
    return t;
  }
  const std::string endpoint = hf_endpoint();
  const std::string repo_display = "hf.co/" + src.owner + "/" + src.repo;
  const auto files = list_hub_files(endpoint, src.owner, src.repo);
  HubFile f;
  if (src.kind == PullSource::Kind::kHubRepo) {
    f = pick_gguf(files, src.quant, repo_display);
  } else {
    auto it = std::find_if(files.begin(), files.end(), [&](const HubFile& x) { return x.path == src.file; });
    if (it == files.end()) {
      std::string ggufs;
      for (const auto& x : files)
        if (ends_with_gguf(x.path)) ggufs += (ggufs.empty() ? "" : ", ") + x.path;
      throw Error(repo_display + " has no file " + src.file + "; its GGUF files: " + (ggufs.empty() ? "(none)" : ggufs));
    }
    f = *it;
  }
  t.url = hub_file_url(endpoint, src.owner, src.repo, f.path);
  t.display = repo_display + "/" + f.path;
  if (f.size) t.size = f.size;
  t.sha256 = f.sha256;
  t.headers = hf_auth_headers();
  return t;
}

std::string http_failure(const Target& t, const HttpResult& r) {
  const std::string from = " (HTTP " + std::to_string(r.status) + " from " + t.url + ")";
  if (r.status == 404) return t.display + ": not found" + from + "; check the name or URL";
  if (r.status == 401 || r.status == 403)
    return t.display + ": access denied" + from +
           "; for a gated or private Hugging Face repository, accept its terms and set HF_TOKEN";
  std::string snippet = r.body.substr(0, r.body.find('\n'));
  if (snippet.size() > 200) snippet.resize(200);
  return t.display + ": download failed" + from + (snippet.empty() ? "" : ": " + snippet);
}

// What is printable of a file's first bytes, for "not a GGUF file" messages.
std::string printable_start(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (p[i] >= 0x20 && p[i] < 0x7f) ? char(p[i]) : '.';
  return s;
}

// --- pulls of one file in this process share one download ---------------------------------

struct Flight {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::map<int, ProgressFn> watchers;
  int next_watcher = 0;
};

std::mutex g_flights_mu;
std::map<std::string, std::shared_ptr<Flight>> g_flights;

// --- the partial file and what arrives for it ----------------------------------------------

class PartialWriter : public DownloadSink {
 public:
  PartialWriter(int fd, const std::string& blobs_dir, const Target& t, const PullOptions& o, const ProgressFn& report)
      : fd_(fd), blobs_dir_(blobs_dir), t_(t), o_(o), report_(report) {}

  // Takes over what the partial file already holds: hashes it and reads its header.
  void load_existing() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw Error(file_error(blobs_dir_, "cannot read the partial download", errno));
    have_ = uint64_t(st.st_size);
    if (t_.size && have_ > *t_.size) truncate();
    std::vector<char> buf(1 << 20);
    for (uint64_t off = 0; off < have_;) {
      ssize_t n = ::pread(fd_, buf.data(), std::min<uint64_t>(buf.size(), have_ - off), off_t(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error(file_error(blobs_dir_, "cannot read the partial download", n < 0 ? errno : EIO));
      note_header(off, buf.data(), size_t(n));
      hash_.update(buf.data(), size_t(n));
      off += uint64_t(n);
    }
    resumed_from_ = have_;
    total_ = t_.size.value_or(0);
  }

  void truncate() {
    if (::ftruncate(fd_, 0) != 0) throw Error(file_error(blobs_dir_, "cannot reset the partial download", errno));
    have_ = 0;
    resumed_from_ = 0;
    hash_ = Sha256();
    header_len_ = 0;
    header_checked_ = false;
  }

  std::string begin(uint64_t offset, std::optional<uint64_t> total) override {
    if (offset != have_) {
      if (offset != 0) return "the server resumed at byte " + std::to_string(offset) + ", not " + std::to_string(have_);
      try {
        truncate();  // the server sent the whole file again (no Range support): start over
      } catch (const Error& e) {
        return e.what();
      }
    }
    if (total) {
      if (t_.size && *total != *t_.size)
        return t_.display + ": the server's file has " + std::to_string(*total) + " bytes, the source says " +
               std::to_string(*t_.size);
      total_ = *total;
    }
    if (total_ > have_) {
      const uint64_t need = total_ - have_, free = free_bytes(blobs_dir_);
      if (free != UINT64_MAX && free < need) {
        keep_partial_ = true;
        return t_.display + " needs " + format_bytes(need) + " more in " + blobs_dir_ + ", which has " +
               format_bytes(free) + " free (free some space, or point NAGARE_MODELS at a larger disk)";
      }
    }
    speed_.clear();
    emit(PullProgress::Phase::kDownloading, true);
    return "";
  }

  std::string write(const char* data, size_t n) override {
    if (o_.cancel && o_.cancel->load()) {
      cancelled_ = keep_partial_ = true;
      return "pull cancelled";
    }
    if (total_ && have_ + n > total_)
      return t_.display + ": the server sent more than the " + std::to_string(total_) + " bytes it announced";
    for (size_t off = 0; off < n;) {
      ssize_t w = ::pwrite(fd_, data + off, n - off, off_t(have_ + off));
      if (w < 0) {
        if (errno == EINTR) continue;
        return file_error(blobs_dir_, "cannot store " + t_.display, errno);
      }
      off += size_t(w);
    }
    note_header(have_, data, n);
    hash_.update(data, n);
    have_ += n;
    if (header_len_ >= 8 && !header_checked_) {
      header_checked_ = true;
      if (std::string e = header_problem(); !e.empty()) return e;
    }
    emit(PullProgress::Phase::kDownloading, false);
    return "";
  }

  // Problems with the first 8 bytes (magic "GGUF", version 2 or 3); "" when fine. A resumed
  // download has them from load_existing().
  std::string header_problem() const {
    if (std::memcmp(header_, "GGUF", 4) != 0)
      return t_.display + ": not a GGUF file (it starts with '" + printable_start(header_, header_len_) +
             "'); is it a link to the file itself?";
    uint32_t version = uint32_t(header_[4]) | uint32_t(header_[5]) << 8 | uint32_t(header_[6]) << 16 |
                       uint32_t(header_[7]) << 24;
    if (version < 2 || version > 3)
      return t_.display + ": unsupported GGUF version " + std::to_string(version) + " (nagare reads versions 2 and 3)";
    return "";
  }

  void emit(PullProgress::Phase phase, bool force) {
    const auto now = Clock::now();
    if (!force && now - last_emit_ < kProgressInterval) return;
    last_emit_ = now;
    speed_.push_back({now, have_});
    while (speed_.size() > 2 && now - speed_.front().first > kSpeedWindow) speed_.pop_front();
    PullProgress p;
    p.phase = phase;
    p.file = t_.display;
    if (!t_.sha256.empty()) p.digest = "sha256:" + t_.sha256;
    p.done = have_;
    p.total = total_;
    p.resumed_from = resumed_from_;
    if (speed_.size() >= 2) {
      double dt = std::chrono::duration<double>(speed_.back().first - speed_.front().first).count();
      if (dt > 0) p.bytes_per_second = double(speed_.back().second - speed_.front().second) / dt;
    }
    report_(p);
  }

  uint64_t have() const { return have_; }
  uint64_t total() const { return total_; }
  std::string hex_digest() { return hash_.hex_digest(); }
  bool cancelled() const { return cancelled_; }
  bool keep_partial() const { return keep_partial_; }

 private:
  void note_header(uint64_t offset, const char* data, size_t n) {
    for (size_t i = 0; i < n && offset + i < kHeadBytes; ++i) header_[offset + i] = uint8_t(data[i]);
    if (offset < kHeadBytes) header_len_ = size_t(std::min<uint64_t>(kHeadBytes, offset + n));
  }

  int fd_;
  std::string blobs_dir_;
  const Target& t_;
  const PullOptions& o_;
  const ProgressFn& report_;
  Sha256 hash_;
  uint64_t have_ = 0, total_ = 0, resumed_from_ = 0;
  uint8_t header_[kHeadBytes] = {0};  // the file's first bytes: GGUF header, or what to show instead
  size_t header_len_ = 0;
  bool header_checked_ = false, cancelled_ = false, keep_partial_ = false;
  Clock::time_point last_emit_{};
  std::deque<std::pair<Clock::time_point, uint64_t>> speed_;
};

// The partial download, opened and flock()ed; the lock is what makes a second process wait for
// the first. Closing releases it; an empty partial file is removed.
class LockedPartial {
 public:
  ~LockedPartial() { close(); }
  // Opens and locks `path`; waits (reporting kWaiting once) while another pull holds it.
  void acquire(const std::string& path, const PullOptions& o, const ProgressFn& report, const Target& t) {
    path_ = path;
    bool reported = false;
    for (;;) {
      fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (fd_ < 0) throw Error(file_error(path, "cannot create the partial download", errno));
      while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) throw Error(file_error(path, "cannot lock", errno));
        if (!reported) {
          PullProgress p;
          p.phase = PullProgress::Phase::kWaiting;
          p.file = t.display;
          report(p);
          reported = true;
        }
        if (o.cancel && o.cancel->load()) throw Error("pull cancelled");
        std::this_thread::sleep_for(kLockPoll);
      }
      // The holder may have renamed the file into blobs/ (or removed it) before we got the lock:
      // then this descriptor is not the partial file any more; open it afresh.
      struct stat a {}, b {};
      if (::fstat(fd_, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        waited_ = reported;
        return;
      }
      ::close(fd_);
      fd_ = -1;
    }
  }
  int fd() const { return fd_; }
  bool waited() const { return waited_; }
  // Deletes the partial file (it is garbage: wrong bytes, or the disk is full).
  void discard() {
    if (fd_ >= 0) ::unlink(path_.c_str());
  }
  void close() {
    if (fd_ < 0) return;
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && st.st_size == 0 && st.st_nlink > 0) ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
  }
  // After a successful publish the file lives on under blobs/sha256-...; nothing to clean.
  void published() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool waited_ = false;
};

Manifest pulled_manifest(const std::string& digest, uint64_t size, const std::string& source) {
  Manifest m;
  m.weights_digest = digest;
  m.weights_size = size;
  m.source = source;
  m.created = utc_now_rfc3339();
  return m;
}

// The model is already complete in the store: the same weights by digest, or (for a URL, whose
// digest nobody states) this name pulled from the same URL. Publishes the manifest in the
// first case; returns the model.
std::optional<StoredModel> already_stored(ModelStore& store, const PullSource& src, const Target& t) {
  if (!t.sha256.empty()) {
    const std::string digest = "sha256:" + t.sha256;
    struct stat st {};
    if (::stat(store.blob_path(digest).c_str(), &st) != 0 || (t.size && uint64_t(st.st_size) != *t.size))
      return std::nullopt;
    if (auto existing = store.find(src.name); !existing || existing->manifest.weights_digest != digest ||
                                              existing->manifest.source != t.display)
      store.publish(src.name, pulled_manifest(digest, uint64_t(st.st_size), t.display));
    return store.find(src.name);
  }
  if (src.kind != PullSource::Kind::kUrl) return std::nullopt;
  try {
    auto existing = store.find(src.name);
    if (existing && existing->manifest.source == t.display) return existing;
  } catch (const Error&) {
    // a damaged entry: pull it again
  }
  return std::nullopt;
}

PullResult download_and_publish(ModelStore& store, const PullSource& src, const Target& t, const PullOptions& o,
                                const ProgressFn& report) {
  const std::string key = t.sha256.empty() ? "url-" + sha256_hex(t.url).substr(0, 32) : "sha256-" + t.sha256;
  LockedPartial partial;
  partial.acquire(store.blobs_dir() + "/partial-" + key, o, report, t);
  if (auto done = already_stored(store, src, t)) {  // another process finished it meanwhile
    partial.close();
    return {std::move(*done), false, 0};
  }

  PartialWriter w(partial.fd(), store.blobs_dir(), t, o, report);
  w.load_existing();
  const uint64_t start_have = w.have();
  int failures = 0;
  for (;;) {
    if (t.size && w.have() == *t.size && w.have() > 0) break;  // complete from an earlier run
    const uint64_t before = w.have();
    HttpResult r = http_download(t.url, t.headers, w.have(), w);
    if (r.sink_stopped) {
      // Wrong bytes or a write that failed (a full disk) leave nothing behind; a cancelled pull,
      // or one refused up front for want of space, keeps what it has for the next try.
      if (!w.keep_partial()) partial.discard();
      if (w.cancelled()) throw Error("pull of " + t.display + " cancelled; the same pull resumes it");
      throw Error(r.error);
    }
    if (r.status == 416 && w.have() > 0) {  // the partial file is not a prefix of this file
      w.truncate();
      if (++failures >= kMaxAttempts) throw Error(t.display + ": the server refuses every range request");
      continue;
    }
    if (r.transport_failed()) {
      if (w.have() > before && ++failures < kMaxAttempts) continue;  // progress was made: resume at once
      throw Error(t.display + ": download interrupted after " + format_bytes(w.have()) +
                  (w.total() ? " of " + format_bytes(w.total()) : "") + ": " + r.error +
                  (w.have() ? "; run the same pull again to resume" : ""));
    }
    if (r.status < 200 || r.status >= 300) throw Error(http_failure(t, r));
    if (w.total() && w.have() < w.total()) {  // a clean end before the announced size
      if (w.have() > before && ++failures < kMaxAttempts) continue;
      throw Error(t.display + ": the server ended the file after " + std::to_string(w.have()) + " of " +
                  std::to_string(w.total()) + " bytes; run the same pull again to resume");
    }
    break;
  }

  // Verify: size, digest, and the whole GGUF header and tensor index.
  w.emit(PullProgress::Phase::kVerifying, true);
  const uint64_t size = w.have();
  if (t.size && size != *t.size) {
    partial.discard();
    throw Error(t.display + ": downloaded " + std::to_string(size) + " bytes, the source says " + std::to_string(*t.size));
  }
  const std::string hex = w.hex_digest();
  if (!t.sha256.empty() && hex != t.sha256) {
    partial.discard();
    throw Error(t.display + ": the download's sha256 is " + hex + ", but the source states " + t.sha256 +
                "; the file was discarded (a changed or corrupted file: try again)");
  }
  const std::string partial_path = store.blobs_dir() + "/partial-" + key;
  try {
    GgufFile::open(partial_path);
  } catch (const Error& e) {
    partial.discard();
    std::string why = e.what();
    if (why.rfind(partial_path, 0) == 0) why = why.substr(partial_path.size());
    throw Error(t.display + why);
  }
  if (::fsync(partial.fd()) != 0) {
    int err = errno;
    partial.discard();
    throw Error(file_error(store.blobs_dir(), "cannot store " + t.display, err));
  }
  StagedBlob staged(partial_path, "sha256:" + hex, size);
  try {
    store.publish(src.name, pulled_manifest(staged.digest(), size, t.display), &staged);
  } catch (...) {
    staged.release();  // the partial file stays where it is, for the next try
    throw;
  }
  partial.published();
  auto model = store.find(src.name);
  if (!model) throw Error("internal: " + src.name.display() + " vanished after it was pulled");
  return {std::move(*model), true, size - start_have};
}

}  // namespace

PullResult pull_model(ModelStore& store, std::string_view text, const PullOptions& o) {
  auto src = parse_pull_source(text);
  if (!src) {
    ModelName::parse(text);  // a malformed name gets the name's error
    throw Error("cannot pull " + quote_for_message(text) +
                ": nagare pulls hf.co/OWNER/REPO[:QUANT], hf.co/OWNER/REPO/FILE.gguf or an http(s) URL of a GGUF file");
  }
  ProgressFn own = o.progress ? o.progress : [](const PullProgress&) {};
  {
    PullProgress p;
    p.file = std::string(text);
    own(p);
  }
  const Target t = resolve_target(*src);
  store.ensure_layout();
  const std::string key = t.sha256.empty() ? "url:" + t.url : "sha256:" + t.sha256;
  for (;;) {
    if (auto done = already_stored(store, *src, t)) return {std::move(*done), false, 0};
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(g_flights_mu);
      auto& slot = g_flights[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      flight = slot;
    }
    if (!leader) {  // another thread downloads this file: watch it, then look again
      std::unique_lock<std::mutex> lock(flight->mu);
      const int id = flight->next_watcher++;
      flight->watchers[id] = own;
      PullProgress p;
      p.phase = PullProgress::Phase::kWaiting;
      p.file = t.display;
      if (!t.sha256.empty()) p.digest = "sha256:" + t.sha256;
      own(p);
      while (!flight->done) {
        if (o.cancel && o.cancel->load()) {
          flight->watchers.erase(id);
          throw Error("pull of " + t.display + " cancelled");
        }
        flight->cv.wait_for(lock, kLockPoll);
      }
      flight->watchers.erase(id);
      continue;
    }
    // The leader reports to its own callback and to every watcher.
    ProgressFn broadcast = [&own, flight](const PullProgress& p) {
      own(p);
      std::lock_guard<std::mutex> lock(flight->mu);
      for (auto& [id, fn] : flight->watchers) fn(p);
    };
    struct Finish {
      std::shared_ptr<Flight> f;
      std::string key;
      ~Finish() {
        {
          std::lock_guard<std::mutex> lock(g_flights_mu);
          g_flights.erase(key);
        }
        std::lock_guard<std::mutex> lock(f->mu);
        f->done = true;
        f->cv.notify_all();
      }
    } finish{flight, key};
    return download_and_publish(store, *src, t, o, broadcast);
  }
}

}  // namespace nagare
