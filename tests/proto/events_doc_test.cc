// docs/events.md is the event catalogue integrators read; this keeps it true: every
// JSON example parses as a guanxi.v1.Event in protobuf's JSON mapping (no unknown
// fields), carries the required envelope, and every payload type has an example; and its
// "Personal data" table names exactly the fields marked [(guanxi.v1.personal) = true].
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "guanxi/v1/events.pb.h"
#include "guanxi/v1/options.pb.h"

namespace guanxi {
namespace {

std::vector<std::string> JsonBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  std::string line, current;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```json") {
      inside = true;
      current.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(current);
    } else if (inside) {
      current += line + "\n";
    }
  }
  return blocks;
}

TEST(EventsDocTest, EveryExampleParsesAndEveryEventTypeHasOne) {
  std::ifstream file(std::string(GUANXI_SOURCE_DIR) + "/docs/events.md");
  ASSERT_TRUE(file) << "docs/events.md not found";
  std::stringstream text;
  text << file.rdbuf();
  const std::vector<std::string> blocks = JsonBlocks(text.str());
  ASSERT_FALSE(blocks.empty());

  std::set<int> covered;
  std::set<std::string> event_ids;
  for (const std::string& json : blocks) {
    v1::Event event;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto status = google::protobuf::util::JsonStringToMessage(json, &event, options);
    ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << json;
    EXPECT_FALSE(event.event_id().empty()) << json;
    EXPECT_FALSE(event.customer_id().empty()) << json;
    EXPECT_TRUE(event.has_occurred_at()) << json;
    EXPECT_NE(event.payload_case(), v1::Event::PAYLOAD_NOT_SET) << json;
    EXPECT_TRUE(event_ids.insert(event.event_id()).second) << "duplicate id " << event.event_id();
    covered.insert(event.payload_case());
  }

  const google::protobuf::OneofDescriptor* payload =
      v1::Event::descriptor()->FindOneofByName("payload");
  ASSERT_NE(payload, nullptr);
  for (int i = 0; i < payload->field_count(); ++i) {
    EXPECT_TRUE(covered.count(payload->field(i)->number()))
        << "docs/events.md has no example of " << payload->field(i)->name();
  }
}

// "payload.field" for every field of an event payload marked personal.
std::set<std::string> MarkedPersonal() {
  std::set<std::string> marked;
  const google::protobuf::OneofDescriptor* payload =
      v1::Event::descriptor()->FindOneofByName("payload");
  for (int i = 0; i < payload->field_count(); ++i) {
    const google::protobuf::Descriptor* type = payload->field(i)->message_type();
    for (int j = 0; j < type->field_count(); ++j) {
      if (type->field(j)->options().GetExtension(v1::personal)) {
        marked.insert(payload->field(i)->name() + "." + type->field(j)->name());
      }
    }
  }
  return marked;
}

TEST(EventsDocTest, ThePersonalDataTableNamesExactlyTheMarkedFields) {
  std::ifstream file(GUANXI_SOURCE_DIR "/docs/events.md");
  ASSERT_TRUE(file) << "docs/events.md not found";
  std::string line;
  bool inside = false;
  std::set<std::string> listed;
  while (std::getline(file, line)) {
    if (line.rfind("## ", 0) == 0) inside = line == "## Personal data";
    // Table rows: | `payload.field` | why |
    if (inside && line.rfind("| `", 0) == 0) {
      const size_t end = line.find('`', 3);
      listed.insert(line.substr(3, end - 3));
    }
  }
  EXPECT_FALSE(listed.empty());
  EXPECT_EQ(listed, MarkedPersonal());
}

}  // namespace
}  // namespace guanxi
