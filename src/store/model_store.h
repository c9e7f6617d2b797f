// The local model store: one directory ($NAGARE_MODELS, default ~/.nagare/models) holding each
// weights file once as blobs/sha256-<hex> and a small JSON manifest per name under
// manifests/<host>/<namespace>/<name>/<tag>. Every write goes to a temporary file in the target
// directory, is fsynced and renamed into place, blob before manifest, so a crash or a full disk
// never leaves a half-written model listed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/manifest.h"
#include "store/model_name.h"

namespace nagare {

struct Modelfile;

// One model of the store, ready to load: weights_path is the GGUF to open, manifest says what
// to change on top of it (template, system prompt, parameters, messages).
struct StoredModel {
  ModelName name;
  Manifest manifest;
  std::string weights_path;   // <root>/blobs/sha256-<hex>
  int64_t modified_unix = 0;  // when the manifest was last written (seconds since 1970)
};

// A file moved into blobs/ by ModelStore::publish: written (and fsynced) under blobs/ by its
// producer, then renamed. Deletes the file when dropped unpublished.
class StagedBlob {
 public:
  StagedBlob() = default;
  StagedBlob(std::string path, std::string digest, uint64_t size)
      : path_(std::move(path)), digest_(std::move(digest)), size_(size) {}
  StagedBlob(StagedBlob&& o) noexcept { *this = std::move(o); }
  StagedBlob& operator=(StagedBlob&& o) noexcept;
  ~StagedBlob();
  const std::string& path() const { return path_; }
  const std::string& digest() const { return digest_; }  // "sha256:<hex>"
  uint64_t size() const { return size_; }
  void release() { path_.clear(); }  // the file is gone or owned elsewhere

 private:
  std::string path_, digest_;
  uint64_t size_ = 0;
};

class ModelStore {
 public:
  // Opens the store at `root`; directories are created on the first write.
  explicit ModelStore(std::string root);
  // $NAGARE_MODELS, else $HOME/.nagare/models; throws Error when neither is set.
  static std::string default_root();

  const std::string& root() const { return root_; }
  std::string blobs_dir() const { return root_ + "/blobs"; }
  std::string blob_path(std::string_view digest) const;  // digest "sha256:<hex>" -> blobs/sha256-<hex>
  std::string manifest_path(const ModelName& name) const;

  // Every model, most recently written first (then by name). A manifest that cannot be read is
  // skipped and described in `problems` when given.
  std::vector<StoredModel> list(std::vector<std::string>* problems = nullptr) const;
  // The model of that name, or nullopt when the store has none. Throws Error when its manifest
  // is corrupt or its weights are missing from blobs/.
  std::optional<StoredModel> find(const ModelName& name) const;
  // Parses `name` and finds it; a missing model is an Error saying how to get one.
  StoredModel resolve(std::string_view name) const;

  // Writes `name`'s manifest (replacing any), first moving `blob` into blobs/ when given (dropped
  // when that digest is already stored). All under the store lock, so a concurrent remove()
  // cannot collect the blob in between. Throws Error when the manifest's blob is not stored.
  // Weights the replaced manifest used are deleted when no other name uses them.
  void publish(const ModelName& name, const Manifest& manifest, StagedBlob* blob = nullptr);
  // Deletes a name, then every blob no manifest references. Throws Error when absent.
  void remove(const ModelName& name);
  // Gives `to` the same manifest as `from` (no weight copy); replaces `to` if present.
  void copy(const ModelName& from, const ModelName& to);
  // Builds `name` from a Modelfile: FROM a store name reuses its weights and overrides; FROM a
  // .gguf path imports that file (checked, copied into blobs/ once); FROM sha256:<hex> uses
  // that blob, already in blobs/. The Modelfile's instructions replace the base's. With
  // `allow_paths` false (requests over HTTP), FROM a file path is refused, so a client cannot
  // make the server read its files. Returns the written manifest.
  Manifest create(const ModelName& name, const Modelfile& modelfile, bool allow_paths = true);
  // Copies a local GGUF file (checked first) into a staged blob, hashing it on the way.
  StagedBlob stage_file(const std::string& gguf_path);
  // Deletes blobs no manifest references and temporary files of dead processes; partial
  // downloads stay (a later pull resumes them). Returns how many blobs went. Deletes nothing
  // when a manifest cannot be read (its blob would look unreferenced).
  size_t collect_garbage();

  // Creates root/, blobs/ and manifests/ if missing.
  void ensure_layout() const;
  // A temporary file name in `dir` that garbage collection recognises (and removes once the
  // process that made it has gone).
  static std::string temp_path(const std::string& dir, std::string_view purpose);

 private:
  std::optional<StoredModel> read_model(const ModelName& name, bool check_blob) const;
  size_t collect_garbage_locked();

  std::string root_;
};

}  // namespace nagare
