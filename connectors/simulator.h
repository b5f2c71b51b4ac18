// A synthetic but realistic stream of customer events, for demos, tests and the churn
// benchmark: every event type, a population spread over the classes of METHOD.md, and
// planted churners whose behaviour degrades before they leave.
//
//   SimulatorOptions options{.customers = 1000, .days = 365, .seed = 7};
//   Simulator sim(options);
//   sim.Run([](const guanxi::v1::Event& e) { ... });   // in event-time order
//   for (const GroundTruth& t : sim.truth()) ...;
//
// Deterministic: the same options give the same events, byte for byte, on any platform
// (its own random generator and distributions; no std:: distributions, whose output
// differs between standard libraries). Pure: no I/O, no clock. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "guanxi/v1/events.pb.h"

namespace guanxi::connectors {

struct SimulatorOptions {
  int64_t customers = 1000;
  int32_t days = 365;
  uint64_t seed = 1;
  // Midnight UTC of the first simulated day (default 2025-01-01).
  int64_t start_unix_seconds = 1735689600;
  // Share of customers planted to churn inside the window.
  double churn_share = 0.15;
};

enum class Persona { kKeyAccount, kRegular, kSmall, kProspect };

// A customer's own rates when all is well: its persona's, with the individual spread of
// purchase rate and order size applied. Per day unless said otherwise. While a churner
// declines (progress p from 0 at degrade_from to 1 at churn_at) most of them move with p;
// bench/churn_oracle.cc mirrors every such formula of simulator.cc and must change with it.
struct CustomerRates {
  double purchase_per_day = 0;
  double order_median_eur = 0;
  double call_per_day = 0;
  double visit_per_day = 0;
  double info_per_day = 0;
  double guidance_per_day = 0;
  double support_per_day = 0;
  double complaint_per_day = 0;
  double attend_activity = 0;  // chance of attending a company activity when invited
  int contacts = 0;
};

// What really happened to one customer: the benchmark scores warnings against it.
struct GroundTruth {
  std::string customer_id;
  Persona persona = Persona::kRegular;
  bool churns = false;
  // When the customer's behaviour starts to degrade and when it leaves (unix seconds);
  // 0 when it does not churn.
  int64_t degrade_from = 0;
  int64_t churn_at = 0;
  // Hidden from the events (for an oracle that knows the generating process).
  CustomerRates rates;
};

const char* PersonaName(Persona persona);

class Simulator {
 public:
  explicit Simulator(const SimulatorOptions& options);

  // Generates every event, in non-decreasing occurred_at order, to `emit`.
  void Run(const std::function<void(const guanxi::v1::Event&)>& emit);

  const std::vector<GroundTruth>& truth() const { return truth_; }

 private:
  struct Customer;

  SimulatorOptions options_;
  std::vector<GroundTruth> truth_;
};

// The ground truth as one JSON object per line (schema in docs/connectors.md):
// {"customerId":"sim-000042","persona":"key_account","churns":true,
//  "degradeFrom":"2025-05-01T00:00:00Z","churnAt":"2025-07-10T00:00:00Z"}
std::string GroundTruthJsonLine(const GroundTruth& truth);

}  // namespace guanxi::connectors
