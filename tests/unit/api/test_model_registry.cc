// ModelRegistry on a temporary store holding the SmolLM2 test model under several names: load on
// first use (shared by concurrent requests), names normalised, keep-alive 0 and negative, least
// recently used idle models unloaded first and busy ones never, the memory budget, and load
// failures that leave the other models serving.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "../store/store_test_util.h"
#include "api/api_error.h"
#include "api/model_registry.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "store/modelfile.h"

namespace nagare {
namespace {

using testing::TempDir;

const std::string kSmol = std::string(NAGARE_SOURCE_DIR) + "/models/SmolLM2-135M-Instruct.Q4_1.gguf";

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ModelStore store(dir_->path());
    store.create(ModelName::parse("smol"), Modelfile::parse("FROM " + kSmol + "\nSYSTEM be brief\n", "test"));
    store.copy(ModelName::parse("smol"), ModelName::parse("smol2"));
    store.copy(ModelName::parse("smol"), ModelName::parse("smol3"));
    // A valid GGUF that is no model: the store takes it, loading it fails.
    testing::write_file(dir_->path() + "/broken.gguf", testing::tiny_gguf(1));
    store.create(ModelName::parse("broken"), Modelfile::parse("FROM " + dir_->path() + "/broken.gguf\n", "test"));
  }
  static void TearDownTestSuite() { delete dir_; }

  static RegistryOptions options(int max_loaded = 3, double keep_alive = 300) {
    RegistryOptions o;
    o.engine.n_ctx = 256;
    o.engine.kv_cache_bytes = 16 << 20;  // room for one 256-token request
    o.engine.threads = 1;
    o.keep_alive_s = keep_alive;
    o.max_loaded = max_loaded;
    return o;
  }
  static std::unique_ptr<ModelRegistry> registry(RegistryOptions o) {
    return std::make_unique<ModelRegistry>(std::make_unique<ModelStore>(dir_->path()), o);
  }
  static std::vector<std::string> loaded_names(const ModelRegistry& r) {
    std::vector<std::string> out;
    for (const auto& m : r.loaded()) out.push_back(m.model->name());
    std::sort(out.begin(), out.end());
    return out;
  }
  // Waits for a state the registry's timer thread brings about; the deadline only stops a hang.
  static void wait_for(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  static TempDir* dir_;
};
TempDir* RegistryTest::dir_ = nullptr;

int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e.status();
  }
  return 0;
}

TEST_F(RegistryTest, LoadsOnFirstUseOnceUnderEitherName) {
  auto r = registry(options());
  int64_t load_ns = -1;
  ModelLease a = r->acquire("smol", std::nullopt, &load_ns);
  EXPECT_GT(load_ns, 0);
  EXPECT_EQ(a->name(), "smol:latest");
  ModelLease b = r->acquire("smol:latest", std::nullopt, &load_ns);
  EXPECT_EQ(load_ns, 0);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_FALSE(a->pinned());
  EXPECT_EQ(a->served().preset().system, std::optional<std::string>("be brief"));
  EXPECT_GT(a->size_bytes(), a->engine().model().file().file_size());  // weights + KV cache
  EXPECT_EQ(loaded_names(*r), std::vector<std::string>{"smol:latest"});
}

TEST_F(RegistryTest, ConcurrentRequestsShareOneLoad) {
  auto r = registry(options());
  std::vector<ModelLease> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) threads.emplace_back([&, i] { got[i] = r->acquire("smol2", std::nullopt); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g.get(), got[0].get());
}

TEST_F(RegistryTest, UnknownNameIs404AndBadFileIs500WhileOthersServe) {
  auto r = registry(options());
  EXPECT_EQ(status_of([&] { r->acquire("nothing-here", std::nullopt); }), 404);
  EXPECT_EQ(status_of([&] { r->acquire("../../etc", std::nullopt); }), 404);
  try {
    r->acquire("broken", std::nullopt);
    FAIL() << "loading a GGUF without weights succeeded";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 500);
    EXPECT_NE(std::string(e.what()).find("'broken:latest' failed to load"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(r->loaded().empty());
  EXPECT_EQ(r->acquire("smol", std::nullopt)->name(), "smol:latest");
}

TEST_F(RegistryTest, KeepAliveZeroUnloadsOnceTheLastLeaseEnds) {
  auto r = registry(options());
  ModelLease a = r->acquire("smol", 0.0);
  ModelLease b = a;
  a.reset();
  EXPECT_EQ(loaded_names(*r).size(), 1u);  // still held by b
  b.reset();
  wait_for([&] { return r->loaded().empty(); });
}

TEST_F(RegistryTest, NegativeKeepAliveNeverExpires) {
  auto r = registry(options(3, 0));  // the default would unload at once
  r->acquire("smol", -1.0).reset();
  ASSERT_EQ(r->loaded().size(), 1u);
  EXPECT_EQ(r->loaded()[0].expires_unix, -1);
  r->acquire("smol2", std::nullopt).reset();  // the default, 0: gone at once
  wait_for([&] { return r->loaded().size() == 1; });
  EXPECT_EQ(loaded_names(*r), std::vector<std::string>{"smol:latest"});
}

TEST_F(RegistryTest, LeastRecentlyUsedIdleModelUnloadsFirst) {
  auto r = registry(options(2));
  r->acquire("smol", std::nullopt).reset();
  r->acquire("smol2", std::nullopt).reset();
  r->acquire("smol", std::nullopt).reset();  // smol2 is now the least recently used
  ModelLease c = r->acquire("smol3", std::nullopt);
  EXPECT_EQ(loaded_names(*r), (std::vector<std::string>{"smol3:latest", "smol:latest"}));
}

TEST_F(RegistryTest, BusyModelIsNeverUnloaded) {
  auto r = registry(options(1));
  ModelLease a = r->acquire("smol", std::nullopt);
  EXPECT_EQ(status_of([&] { r->acquire("smol2", std::nullopt); }), 503);
  EXPECT_EQ(loaded_names(*r), std::vector<std::string>{"smol:latest"});
  EXPECT_EQ(a->engine().stats().running, 0);  // still usable
  a.reset();
  EXPECT_EQ(r->acquire("smol2", std::nullopt)->name(), "smol2:latest");
  EXPECT_EQ(loaded_names(*r), std::vector<std::string>{"smol2:latest"});
}

TEST_F(RegistryTest, MemoryBudgetLimitsWhatLoads) {
  RegistryOptions o = options();
  o.memory_budget = 1 << 20;  // 1 MiB: no model fits
  auto r = registry(o);
  try {
    r->acquire("smol", std::nullopt);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 500);
    EXPECT_NE(std::string(e.what()).find("memory budget"), std::string::npos) << e.what();
  }
  // Room for one model: the second unloads the first.
  auto probe = registry(options());
  const uint64_t one = probe->acquire("smol", std::nullopt)->size_bytes();
  o.memory_budget = one + one / 2;
  r = registry(o);
  r->acquire("smol", std::nullopt).reset();
  r->acquire("smol2", std::nullopt).reset();
  EXPECT_EQ(loaded_names(*r), std::vector<std::string>{"smol2:latest"});
}

TEST_F(RegistryTest, PinnedModelAnswersItsAliasAndStays) {
  auto r = registry(options(1, 0));
  auto file = Model::load(kSmol);
  auto tok = Tokenizer::from_gguf(file->file());
  EngineOptions eo = options().engine;
  r->pin("mine", std::make_unique<Engine>(std::move(file), std::move(tok), eo), 0);
  EXPECT_EQ(r->acquire("mine:latest", 0.0)->name(), "mine");
  EXPECT_EQ(r->acquire("", std::nullopt)->name(), "mine");
  r->acquire("smol", std::nullopt).reset();  // the pinned model does not count against 1
  wait_for([&] { return r->loaded().size() == 1; });
  EXPECT_TRUE(r->loaded()[0].model->pinned());
  EXPECT_EQ(r->loaded()[0].expires_unix, -1);
}

TEST_F(RegistryTest, LeaseOutlivingTheRegistryIsSafe) {
  ModelLease a;
  {
    auto r = registry(options());
    a = r->acquire("smol", std::nullopt);
  }
  EXPECT_EQ(a->name(), "smol:latest");
  EXPECT_GT(a->engine().tokenizer().vocab_size(), 0);
  a.reset();
}

}  // namespace
}  // namespace nagare
