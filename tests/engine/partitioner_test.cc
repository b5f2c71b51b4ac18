#include "engine/kafka/partitioner.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/kafka/kafka.h"
#include "gtest/gtest.h"

namespace guanxi::engine {
namespace {

// Our murmur2 puts every key where librdkafka's `murmur2_random` partitioner (the
// engine's producers; the same function as Kafka's Java client) does.
TEST(PartitionerTest, KeysLandWhereTheMurmur2PartitionerPutsThem) {
  auto cluster = std::move(*EmbeddedCluster::Start(1));
  for (int partitions : {1, 3, 16}) {
    const std::string topic = absl::StrCat("keys-", partitions);
    ASSERT_TRUE(cluster->CreateTopic(topic, partitions, 1).ok());
    std::map<uint64_t, int32_t> landed;
    auto producer = std::move(*Producer::Create(
        cluster->bootstrap_servers(), {},
        [&](const Producer::Delivery& d) { landed[d.cookie] = d.partition; }));
    std::map<uint64_t, std::string> keys;
    for (uint64_t i = 0; i < 300; ++i) {
      // Lengths 1..12 exercise every tail of the hash; ids as integrators write them.
      keys[i] = i % 3 == 0 ? absl::StrCat("C-", i) : std::string(1 + i % 12, static_cast<char>('a' + i % 26));
      ASSERT_TRUE(producer->Produce(topic, keys[i], "v", i).ok());
    }
    ASSERT_EQ(producer->Flush(absl::Seconds(30)), 0);
    ASSERT_EQ(landed.size(), keys.size());
    for (const auto& [i, key] : keys) {
      EXPECT_EQ(KeyPartition(key, partitions), landed[i]) << "key '" << key << "'";
    }
  }
}

TEST(PartitionerTest, EmptyKeyAndHighBytesAreHashedAsBytes) {
  EXPECT_EQ(KeyPartition("", 7), static_cast<int32_t>((Murmur2("") & 0x7fffffff) % 7));
  EXPECT_NE(Murmur2("\xff\xfe"), Murmur2("\x7f\x7e"));  // unsigned bytes, not sign-extended
  EXPECT_EQ(KeyPartition("anything", 1), 0);
}

}  // namespace
}  // namespace guanxi::engine
