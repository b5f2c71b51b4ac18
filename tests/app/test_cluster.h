// The Kafka a process-level test talks to: librdkafka's mock cluster in this process, or
// the real Apache Kafka that `scripts/kafka start --nodes 3` runs (ctest starts it for
// the tests labelled `kafka` in GUANXI_KAFKA_DIR, tests/CMakeLists.txt). On the real one every test gets
// its own topics and consumer group, named after the test, so tests never see each
// other's messages.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/config/config.h"
#include "engine/kafka/kafka.h"
#include "engine/kafka/topics.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "guanxi/v1/config.pb.h"

namespace guanxi::testing {

enum class KafkaKind { kEmbedded, kApache };

inline std::string KindName(KafkaKind kind) {
  return kind == KafkaKind::kEmbedded ? "Embedded" : "ApacheKafka";
}
// For googletest's listings (ctest shows "GetParam() = Embedded").
inline void PrintTo(KafkaKind kind, std::ostream* os) { *os << KindName(kind); }

class TestCluster {
 public:
  // Three brokers either way; the guanxi topics with `partitions` partitions. On Apache
  // Kafka the names are prefixed with `name` (what a topic name may not hold becomes '_').
  static std::unique_ptr<TestCluster> Start(KafkaKind kind, const std::string& name,
                                            int partitions) {
    auto cluster = std::unique_ptr<TestCluster>(new TestCluster());
    cluster->kind_ = kind;
    cluster->config_ = engine::DefaultEngineConfig();
    auto* kafka = cluster->config_.mutable_kafka();
    if (kind == KafkaKind::kEmbedded) {
      auto embedded = engine::EmbeddedCluster::Start(3);
      EXPECT_TRUE(embedded.ok()) << embedded.status();
      if (!embedded.ok()) return nullptr;
      cluster->embedded_ = std::move(*embedded);
      kafka->set_brokers(cluster->embedded_->bootstrap_servers());
      EXPECT_TRUE(engine::CreateGuanxiTopics(*cluster->embedded_, *kafka, partitions).ok());
      return cluster;
    }
#if defined(GUANXI_KAFKA_DIR)
    std::string bootstrap;
    std::getline(std::ifstream(GUANXI_KAFKA_DIR "/bootstrap"), bootstrap);
#else
    const std::string bootstrap;
#endif
    EXPECT_FALSE(bootstrap.empty())
        << "no Apache Kafka runs for the tests: run them through ctest, whose fixture "
           "KafkaCluster starts one with scripts/kafka";
    if (bootstrap.empty()) return nullptr;
    // Unique per run too, should a cluster outlive one.
    std::string safe = name.substr(0, 150);
    for (char& c : safe) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
    }
    const std::string prefix = absl::StrCat(safe, ".", getpid(), ".");
    kafka->set_brokers(bootstrap);
    kafka->set_group_id(prefix + "engine");
    kafka->set_events_topic(prefix + "events");
    kafka->set_warnings_topic(prefix + "churn-warnings");
    kafka->set_changes_topic(prefix + "relationship-changes");
    kafka->set_dead_letters_topic(prefix + "dead-letters");
    kafka->set_instances_topic(prefix + "instances");
    const absl::Status created = engine::CreateGuanxiTopics(*kafka, partitions, 3, absl::Seconds(60));
    EXPECT_TRUE(created.ok()) << created;
    if (!created.ok()) return nullptr;
    return cluster;
  }

  KafkaKind kind() const { return kind_; }
#if defined(GUANXI_KAFKA_DIR)
  // Apache Kafka's SASL_SSL listeners (scripts/kafka: PLAIN or SCRAM-SHA-512, user
  // `guanxi`, password `guanxi-secret`) and the CA that signed their certificates.
  static std::string SaslBrokers() {
    std::string list;
    for (int node = 0; node < 3; ++node) {
      absl::StrAppend(&list, node == 0 ? "" : ",", "127.0.0.1:",
                      std::stoi(GUANXI_KAFKA_PORT) + 10 + node);
    }
    return list;
  }
  static std::string SaslCa() { return absl::StrCat(GUANXI_KAFKA_DIR, "/tls/ca.pem"); }
#endif
  const std::string& brokers() const { return config_.kafka().brokers(); }
  const guanxi::v1::KafkaConfig& kafka() const { return config_.kafka(); }
  // The engine's configuration for this cluster (topics, group); tests add to it.
  guanxi::v1::EngineConfig& config() { return config_; }

  // Writes the Kafka part of config() as a file for `guanxi ... --config`.
  void WriteConfig(const std::string& path) const {
    guanxi::v1::EngineConfig file;
    *file.mutable_kafka() = config_.kafka();
    file.mutable_kafka()->clear_brokers();  // given by --brokers
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(file, &text));
    std::ofstream(path) << text;
  }

  // Takes broker `id` (0..2) away, abruptly: on the mock its connections close and it
  // refuses new ones; on Apache Kafka its process is SIGKILLed. BrokerUp brings it back
  // (a restart with its data on Apache Kafka).
  void BrokerDown(int id) {
    if (embedded_) {
      ASSERT_TRUE(embedded_->SetBrokerDown(id + 1).ok());
    } else {
      ASSERT_EQ(Script(absl::StrCat("kill-node ", id)), 0);
    }
  }
  void BrokerUp(int id) {
    if (embedded_) {
      ASSERT_TRUE(embedded_->SetBrokerUp(id + 1).ok());
    } else {
      ASSERT_EQ(Script(absl::StrCat("start-node ", id)), 0);
    }
  }
  // Apache Kafka only (the mock has no DeleteRecords): deletes every message the events
  // topic holds now, as retention would; its partitions then start at their high
  // watermarks.
  void DeleteEveryEvent(int partitions) {
    ASSERT_EQ(embedded_, nullptr) << "the mock cluster cannot delete records";
    ASSERT_EQ(Script(absl::StrCat("delete-records ", config_.kafka().events_topic(), " ",
                                  partitions)),
              0);
  }
  // The mock only: makes broker `id` the coordinator of the engine's group.
  engine::EmbeddedCluster* embedded() { return embedded_.get(); }

 private:
  TestCluster() = default;
  static int Script(const std::string& args) {
#if defined(GUANXI_KAFKA_DIR)
    return std::system(absl::StrCat("GUANXI_KAFKA_DIR='", GUANXI_KAFKA_DIR, "' GUANXI_KAFKA_PORT=",
                                    GUANXI_KAFKA_PORT, " '", GUANXI_SOURCE_DIR,
                                    "/scripts/kafka' ", args)
                           .c_str());
#else
    ADD_FAILURE() << "scripts/kafka " << args << ": no Apache Kafka in this test binary";
    return -1;
#endif
  }

  KafkaKind kind_ = KafkaKind::kEmbedded;
  guanxi::v1::EngineConfig config_;
  std::unique_ptr<engine::EmbeddedCluster> embedded_;
};

}  // namespace guanxi::testing
