#include "engine/projection/model_fitter.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/config/config.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

// A population of `n` customers with purchases, deterministic.
std::vector<projections::FitFigures> Figures(int n) {
  std::vector<projections::FitFigures> figures;
  for (int i = 0; i < n; ++i) {
    projections::FitFigures f;
    f.rfm = {.recency_days = i % 40, .frequency = 1 + i % 7, .monetary_minor = 1000 * (1 + i % 13)};
    f.history = {.x = static_cast<double>(i % 6), .t_x = i % 6 == 0 ? 0.0 : 10.0 + i % 9,
                 .T = 30.0 + i % 5};
    figures.push_back(f);
  }
  return figures;
}

TEST(ModelFitterTest, FitsOffTheCallersThreadInSubmissionOrderAsAnInlineFitWould) {
  const v1::EngineConfig config = DefaultEngineConfig();
  FitRequest request{.partition = 3,
                     .config = config.classification(),
                     .figures = Figures(200),
                     .population = 250};
  request.as_of.set_seconds(1'700'000'000);
  const v1::LogRecord inline_fit = FitModelRecord(request);
  ASSERT_TRUE(inline_fit.model().has_rfm());
  EXPECT_EQ(inline_fit.model().partitions(0), 3);
  EXPECT_EQ(inline_fit.model().population(), 250);

  absl::Mutex mu;
  std::vector<v1::LogRecord> done;
  ModelFitter fitter;
  for (int32_t partition : {3, 5}) {
    FitRequest r = request;
    r.partition = partition;
    r.done = [&](v1::LogRecord record) {
      absl::MutexLock lock(&mu);
      done.push_back(std::move(record));
    };
    fitter.Submit(std::move(r));
  }
  fitter.WaitIdle();
  EXPECT_EQ(fitter.fitted(), 2u);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].SerializeAsString(), inline_fit.SerializeAsString());
  EXPECT_EQ(done[1].model().partitions(0), 5);
}

TEST(ModelFitterTest, IdleWithNothingSubmittedAndStopsWithWorkQueued) {
  ModelFitter fitter;
  fitter.WaitIdle();
  EXPECT_EQ(fitter.fitted(), 0u);
  FitRequest request{.config = DefaultEngineConfig().classification(), .figures = Figures(50)};
  for (int i = 0; i < 20; ++i) fitter.Submit(request);
  // The destructor returns without fitting everything that was queued.
}

}  // namespace
}  // namespace guanxi::engine
