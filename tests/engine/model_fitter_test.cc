#include "engine/projection/model_fitter.h"

#include <vector>

#include "engine/partition/model_slots.h"
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

  auto slots = std::make_shared<ModelSlots>();
  ModelFitter fitter;
  for (int32_t partition : {3, 5}) {
    FitRequest r = request;
    r.partition = partition;
    r.land_at = static_cast<uint64_t>(partition) * 10;
    r.sink = slots;
    slots->Expect(r.land_at);
    fitter.Submit(std::move(r));
  }
  fitter.WaitIdle();
  EXPECT_EQ(fitter.fitted(), 2u);
  const std::vector<v1::LogRecord> done = slots->TakeFitted();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].SerializeAsString(), inline_fit.SerializeAsString());
  EXPECT_EQ(done[1].model().partitions(0), 5);
  EXPECT_FALSE(slots->Earliest().has_value());
}

// A pending refit is stored with the refit bookkeeping and fitted again after a
// restart: the same model.
TEST(ModelFitterTest, AStoredRequestFitsTheSameModel) {
  FitRequest request{.partition = 2,
                     .config = DefaultEngineConfig().classification(),
                     .figures = Figures(300),
                     .population = 320,
                     .land_at = 4242,
                     .interval_records = 100};
  request.as_of.set_seconds(1'700'000'000);
  // With a churn risk calibration (features in floats, as snapshots hold them).
  request.risk_horizon_days = 90;
  for (int i = 0; i < 200; ++i) {
    projections::RiskExample e;
    for (int j = 0; j < projections::kRiskFeatures; ++j) {
      e.features[static_cast<size_t>(j)] = static_cast<float>((i * 7 + j * 3) % 11) / 4.0f;
    }
    e.churned = (i * 7) % 11 > 5;
    request.risk_examples.push_back(e);
  }
  // Started from the BG/NBD model in force.
  request.previous_bgnbd = FitModelRecord(request).model().bgnbd();
  ASSERT_TRUE(request.previous_bgnbd->converged());
  v1::PendingRefit stored;
  ASSERT_TRUE(stored.ParseFromString(PendingRefitOf(request).SerializeAsString()));
  const FitRequest restored = FitRequestOf(stored, 2, request.config, nullptr);
  ASSERT_TRUE(restored.previous_bgnbd.has_value());
  EXPECT_EQ(restored.previous_bgnbd->SerializeAsString(),
            request.previous_bgnbd->SerializeAsString());
  EXPECT_EQ(restored.land_at, 4242u);
  EXPECT_EQ(restored.population, 320);
  EXPECT_EQ(restored.interval_records, 100u);
  ASSERT_EQ(restored.figures.size(), request.figures.size());
  ASSERT_EQ(restored.risk_examples.size(), request.risk_examples.size());
  const v1::LogRecord fitted = FitModelRecord(request);
  ASSERT_TRUE(fitted.model().has_churn_risk());
  EXPECT_EQ(fitted.model().reclassify_per_record(), 7u);  // 320 customers in 50 records
  EXPECT_EQ(FitModelRecord(restored).SerializeAsString(), fitted.SerializeAsString());
}

// A model's pass over its partition ends within half the records of the refit interval
// before it, from 1 to kMaxReclassifyPerRecord customers a record.
TEST(ModelFitterTest, PacesTheReclassificationToThePartitionsTraffic) {
  EXPECT_EQ(ReclassifyPerRecord(900, 4'500), 1u);     // 900 customers in 2,250 records
  EXPECT_EQ(ReclassifyPerRecord(900, 1'800), 1u);     // exactly in 900
  EXPECT_EQ(ReclassifyPerRecord(901, 1'800), 2u);     // rounded up, not past half
  EXPECT_EQ(ReclassifyPerRecord(600'000, 1'000'000), 2u);
  EXPECT_EQ(ReclassifyPerRecord(600'000, 20'000), kMaxReclassifyPerRecord);  // capped
  EXPECT_EQ(ReclassifyPerRecord(0, 1'000), 1u);
  EXPECT_EQ(ReclassifyPerRecord(900, 0), kMaxReclassifyPerRecord);  // not known
  EXPECT_EQ(ReclassifyPerRecord(900, 1), kMaxReclassifyPerRecord);
  FitRequest request{.config = DefaultEngineConfig().classification(),
                     .figures = Figures(100),
                     .population = 100};
  EXPECT_EQ(FitModelRecord(request).model().reclassify_per_record(), kMaxReclassifyPerRecord);
  request.interval_records = 2'000;
  EXPECT_EQ(FitModelRecord(request).model().reclassify_per_record(), 1u);
}

// A refit with nothing to calibrate the churn risk on keeps the one in force.
TEST(ModelFitterTest, KeepsTheChurnRiskInForceWithNothingToCalibrate) {
  FitRequest request{.partition = 1,
                     .config = DefaultEngineConfig().classification(),
                     .figures = Figures(100),
                     .population = 100};
  EXPECT_FALSE(FitModelRecord(request).model().has_churn_risk());
  v1::ChurnRiskModel in_force;
  in_force.set_horizon_days(90);
  in_force.set_intercept(-1.25);
  request.previous_risk = in_force;
  EXPECT_EQ(FitModelRecord(request).model().churn_risk().SerializeAsString(),
            in_force.SerializeAsString());
  v1::PendingRefit stored;
  ASSERT_TRUE(stored.ParseFromString(PendingRefitOf(request).SerializeAsString()));
  EXPECT_EQ(FitModelRecord(FitRequestOf(stored, 1, request.config, nullptr))
                .model()
                .churn_risk()
                .SerializeAsString(),
            in_force.SerializeAsString());
}

// The writer takes models in landing order, and only fitted ones unless it waits.
TEST(ModelSlotsTest, HandsOutModelsInLandingOrderOnceFitted) {
  ModelSlots slots;
  EXPECT_FALSE(slots.Earliest().has_value());
  slots.Expect(90);
  slots.Expect(40);
  EXPECT_EQ(slots.Earliest(), 40u);
  v1::LogRecord later;
  later.mutable_model()->set_population(90);
  slots.Deliver(90, later);
  EXPECT_TRUE(slots.TakeFitted().empty());  // 40 is not fitted: nothing passes it
  EXPECT_FALSE(slots.TakeEarliest(absl::Milliseconds(1)).has_value());
  v1::LogRecord earlier;
  earlier.mutable_model()->set_population(40);
  slots.Deliver(40, earlier);
  auto first = slots.TakeEarliest(absl::Seconds(1));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->model().population(), 40);
  const std::vector<v1::LogRecord> rest = slots.TakeFitted();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].model().population(), 90);
  EXPECT_FALSE(slots.Earliest().has_value());
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
