// What a run derived against what it published, for the tests that check the outbox
// delivered everything: facts compared by id, as a consumer deduplicates them
// (docs/consumers.md): a relationship change by its change_id, a churn-warning notice by
// "warning_id#notice".
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/kafka/kafka.h"
#include "engine/storage/projection_store.h"
#include "gtest/gtest.h"
#include "guanxi/v1/config.pb.h"
#include "guanxi/v1/projection.pb.h"
#include "guanxi/v1/state.pb.h"
#include "guanxi/v1/warning.pb.h"

namespace guanxi::testing {

inline std::string FactId(const v1::DerivedFact& f) {
  return f.has_warning() ? absl::StrCat(f.warning().warning_id(), "#", f.warning().notice())
                         : f.change().change_id();
}

// Adds the id of every fact `store` holds, of every customer's, to `ids`.
inline void CollectDerivedIds(const engine::ProjectionStore& store, std::set<std::string>& ids) {
  std::vector<std::string> customers;
  EXPECT_TRUE(store
                  .ForEachState([&](const v1::CustomerState& s) {
                    customers.push_back(s.customer_id());
                    return true;
                  })
                  .ok());
  for (const std::string& c : customers) {
    EXPECT_TRUE(store
                    .ForEachFact(c,
                                 [&](uint64_t, const v1::DerivedFact& f) {
                                   ids.insert(FactId(f));
                                   return true;
                                 })
                    .ok());
  }
}

struct PublishedFacts {
  std::set<std::string> ids;
  int64_t messages = 0;  // a fact published twice is two (delivery is at least once)
  int64_t warnings = 0;  // messages on the warnings topic
};

// Reads the changes and warnings topics from their start, in a consumer group of its own,
// until every id of `expected` was seen or 60 s passed.
inline PublishedFacts ReadPublishedFacts(const std::string& brokers,
                                         const v1::KafkaConfig& kafka,
                                         const std::set<std::string>& expected) {
  struct FromStart final : engine::RebalanceListener {
    std::vector<int64_t> OnAssigned(const std::vector<engine::TopicPartition>& ps) override {
      return std::vector<int64_t>(ps.size(), engine::kOffsetBeginning);
    }
    void OnRevoked(const std::vector<engine::TopicPartition>&) override {}
  } listener;
  PublishedFacts published;
  auto consumer =
      engine::Consumer::Create(brokers, kafka.group_id() + "-outbox-check", {}, &listener);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return published;
  EXPECT_TRUE((*consumer)->Subscribe({kafka.changes_topic(), kafka.warnings_topic()}).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (published.ids.size() < expected.size() && absl::Now() < deadline) {
    for (const engine::KafkaMessage& m : (*consumer)->Poll(5000, absl::Milliseconds(100))) {
      if (!m.error.ok()) continue;
      ++published.messages;
      if (m.topic == kafka.warnings_topic()) {
        v1::ChurnWarning w;
        EXPECT_TRUE(w.ParseFromString(m.value));
        published.ids.insert(absl::StrCat(w.warning_id(), "#", w.notice()));
        ++published.warnings;
      } else {
        v1::RelationshipChange c;
        EXPECT_TRUE(c.ParseFromString(m.value));
        published.ids.insert(c.change_id());
      }
    }
  }
  (*consumer)->Close();
  return published;
}

}  // namespace guanxi::testing
