// The store in a temporary directory: create (import a GGUF, or FROM a stored name without
// copying weights), list, resolve, copy, remove with blob garbage collection, and what failures
// leave behind (nothing listed, no blob, no temporary file).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "store/file_util.h"
#include "store/model_store.h"
#include "store/modelfile.h"
#include "store_test_util.h"
#include "util/error.h"
#include "util/sha256.h"

namespace nagare {
namespace {

using testing::files_in;
using testing::TempDir;
using testing::tiny_gguf;
using testing::write_file;

std::vector<std::string> listed(const ModelStore& s) {
  std::vector<std::string> out;
  for (const auto& m : s.list()) out.push_back(m.name.display());
  std::sort(out.begin(), out.end());
  return out;
}

Manifest create(ModelStore& s, const std::string& name, const std::string& modelfile, const std::string& dir) {
  Modelfile mf = Modelfile::parse(modelfile, "Modelfile");
  mf.base_dir = dir;
  return s.create(ModelName::parse(name), mf);
}

class StoreTest : public ::testing::Test {
 protected:
  TempDir tmp;
  ModelStore store{tmp / "models"};
  std::string gguf_a = tiny_gguf(1), gguf_b = tiny_gguf(2);
  std::string sha_a = sha256_hex(gguf_a), sha_b = sha256_hex(gguf_b);
  void SetUp() override {
    write_file(tmp / "a.gguf", gguf_a);
    write_file(tmp / "b.gguf", gguf_b);
  }
  std::vector<std::string> blobs() { return files_in(store.blobs_dir()); }
};

TEST_F(StoreTest, ImportResolveAndShareWeights) {
  EXPECT_TRUE(store.list().empty());  // no directory yet: an empty store
  Manifest m = create(store, "a", "FROM ./a.gguf\n", tmp.path());
  EXPECT_EQ(m.weights_digest, "sha256:" + sha_a);
  EXPECT_EQ(m.weights_size, gguf_a.size());
  EXPECT_EQ(m.source, "file:" + (tmp / "a.gguf"));
  EXPECT_EQ(blobs(), std::vector<std::string>{"sha256-" + sha_a});

  StoredModel r = store.resolve("a");
  EXPECT_EQ(r.name.display(), "a:latest");
  EXPECT_EQ(r.weights_path, tmp / "models/blobs/sha256-" + sha_a);
  EXPECT_EQ(testing::read_file(r.weights_path), gguf_a);

  // FROM a stored name: same blob, overrides on top, no copy.
  create(store, "me/terse:v1", "FROM a\nSYSTEM Be terse.\nPARAMETER temperature 0\nMESSAGE user hi\n", tmp.path());
  // Importing the same file again under a third name keeps one copy.
  create(store, "again", "FROM " + (tmp / "a.gguf") + "\n", "/");
  EXPECT_EQ(blobs(), std::vector<std::string>{"sha256-" + sha_a});
  EXPECT_EQ(listed(store), (std::vector<std::string>{"a:latest", "again:latest", "me/terse:v1"}));
  StoredModel t = store.resolve("me/terse:v1");
  EXPECT_EQ(t.manifest.system, "Be terse.");
  EXPECT_EQ(t.manifest.parameters["temperature"], 0.0);
  EXPECT_EQ(t.manifest.source, "a:latest");

  // A model built on me/terse inherits its overrides; its own replace them.
  create(store, "child", "FROM me/terse:v1\nPARAMETER top_k 5\nSYSTEM Be kind.\n", tmp.path());
  StoredModel c = store.resolve("child");
  EXPECT_EQ(c.manifest.system, "Be kind.");
  EXPECT_EQ(c.manifest.parameters["temperature"], 0.0);
  EXPECT_EQ(c.manifest.parameters["top_k"], 5);
  EXPECT_EQ(c.manifest.messages.size(), 1u);
}

TEST_F(StoreTest, CopyRemoveAndCollectGarbage) {
  create(store, "a", "FROM ./a.gguf\n", tmp.path());
  create(store, "b", "FROM ./b.gguf\n", tmp.path());
  store.copy(ModelName::parse("a"), ModelName::parse("ns/a-copy:x"));
  EXPECT_EQ(listed(store), (std::vector<std::string>{"a:latest", "b:latest", "ns/a-copy:x"}));
  EXPECT_EQ(blobs().size(), 2u);

  store.remove(ModelName::parse("a"));  // a-copy still uses the blob
  auto both = std::vector<std::string>{"sha256-" + sha_a, "sha256-" + sha_b};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(blobs(), both);
  store.remove(ModelName::parse("ns/a-copy:x"));
  EXPECT_EQ(blobs(), std::vector<std::string>{"sha256-" + sha_b});
  EXPECT_FALSE(std::filesystem::exists(tmp / "models/manifests/local/ns"));  // empty directories go too
  EXPECT_EQ(listed(store), std::vector<std::string>{"b:latest"});

  EXPECT_THROW(store.remove(ModelName::parse("a")), Error);
  EXPECT_THROW(store.copy(ModelName::parse("nope"), ModelName::parse("x")), Error);
  try {
    store.resolve("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'nope:latest' not found in the store at " + (tmp / "models")),
              std::string::npos) << e.what();
  }
  // A name given other weights lets go of its old ones.
  create(store, "swap", "FROM ./a.gguf\n", tmp.path());
  EXPECT_EQ(blobs().size(), 2u);
  create(store, "swap", "FROM ./b.gguf\n", tmp.path());
  EXPECT_EQ(blobs(), std::vector<std::string>{"sha256-" + sha_b});
  store.remove(ModelName::parse("swap"));
  // Partial downloads are resume state, not garbage.
  write_file(store.blobs_dir() + "/partial-sha256-" + sha_a, "GGUF");
  store.collect_garbage();
  EXPECT_EQ(blobs(), (std::vector<std::string>{"partial-sha256-" + sha_a, "sha256-" + sha_b}));
}

TEST_F(StoreTest, FailedImportsLeaveNothing) {
  write_file(tmp / "text.gguf", "this is not a model\n");
  EXPECT_THROW(create(store, "bad", "FROM ./text.gguf\n", tmp.path()), Error);
  EXPECT_THROW(create(store, "bad", "FROM ./missing.gguf\n", tmp.path()), Error);
  std::filesystem::create_directories(tmp / "dir.gguf");
  EXPECT_THROW(create(store, "bad", "FROM ./dir.gguf\n", tmp.path()), Error);
  try {
    create(store, "bad", "FROM\tnot-there\n", tmp.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FROM on line 1: model 'not-there:latest' is not in the store"),
              std::string::npos) << e.what();
  }
  EXPECT_TRUE(store.list().empty());
  EXPECT_TRUE(blobs().empty());
}

TEST_F(StoreTest, StagedBlobIsRemovedUnlessPublished) {
  std::string path;
  {
    StagedBlob s = store.stage_file(tmp / "a.gguf");
    path = s.path();
    EXPECT_EQ(s.digest(), "sha256:" + sha_a);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(blobs().empty());
  // A manifest whose digest is not the staged blob's is refused, and publishes nothing.
  StagedBlob s = store.stage_file(tmp / "a.gguf");
  Manifest m;
  m.weights_digest = "sha256:" + sha_b;
  m.weights_size = gguf_b.size();
  EXPECT_THROW(store.publish(ModelName::parse("x"), m, &s), Error);
  EXPECT_THROW(store.publish(ModelName::parse("x"), m), Error);  // blob not in the store
  EXPECT_TRUE(store.list().empty());
}

TEST_F(StoreTest, DamagedEntries) {
  create(store, "a", "FROM ./a.gguf\n", tmp.path());
  create(store, "b", "FROM ./b.gguf\n", tmp.path());
  // A corrupt manifest is skipped by list (and reported), refused by resolve, removable by rm,
  // and while it exists garbage collection deletes nothing (its blob would look unused).
  write_file(store.manifest_path(ModelName::parse("a")), "{\"schemaVersion\": 1, \"weights\": ");
  std::vector<std::string> problems;
  auto models = store.list(&problems);
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].name.display(), "b:latest");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("invalid manifest"), std::string::npos) << problems[0];
  EXPECT_THROW(store.resolve("a"), Error);
  store.remove(ModelName::parse("b"));
  EXPECT_EQ(blobs().size(), 2u);
  store.remove(ModelName::parse("a"));
  EXPECT_TRUE(blobs().empty());

  // A missing blob makes resolve fail with advice; list still shows the name.
  create(store, "c", "FROM ./a.gguf\n", tmp.path());
  std::filesystem::remove(store.blobs_dir() + "/sha256-" + sha_a);
  try {
    store.resolve("c");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("are missing from the store; pull or create it again"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(listed(store), std::vector<std::string>{"c:latest"});

  // Directories that are not valid names, and temporary files, are not models.
  write_file(tmp / "models/manifests/local/library/c/.tmp-1-2-write", "{}");
  write_file(tmp / "models/manifests/local/library/..x/latest", "{}");
  problems.clear();
  EXPECT_EQ(store.list(&problems).size(), 1u);
  EXPECT_EQ(problems.size(), 1u);
}

TEST_F(StoreTest, TemporaryFilesOfDeadProcessesAreCollected) {
  create(store, "a", "FROM ./a.gguf\n", tmp.path());
  // A child that exits leaves a pid that no longer runs (and is not reused this soon).
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string dead = ".tmp-" + std::to_string(child) + "-0-import";
  const std::string alive = ModelStore::temp_path(store.blobs_dir(), "import");
  write_file(store.blobs_dir() + "/" + dead, "x");
  write_file(alive, "x");
  write_file(tmp / "models/manifests/local/library/a/" + dead, "x");
  store.collect_garbage();
  EXPECT_FALSE(std::filesystem::exists(store.blobs_dir() + "/" + dead));
  EXPECT_FALSE(std::filesystem::exists(tmp / "models/manifests/local/library/a/" + dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
}

TEST(StoreRoot, FromTheEnvironment) {
  const char* old_models = std::getenv("NAGARE_MODELS");
  const std::string saved = old_models ? old_models : "";
  ::setenv("NAGARE_MODELS", "/somewhere/models", 1);
  EXPECT_EQ(ModelStore::default_root(), "/somewhere/models");
  ::unsetenv("NAGARE_MODELS");
  const char* home = std::getenv("HOME");
  if (home) {
    EXPECT_EQ(ModelStore::default_root(), std::string(home) + "/.nagare/models");
  }
  if (old_models) ::setenv("NAGARE_MODELS", saved.c_str(), 1);
}

}  // namespace
}  // namespace nagare
