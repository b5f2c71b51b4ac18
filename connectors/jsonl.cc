#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/connector.h"
#include "connectors/record_checks.h"
#include "google/protobuf/util/json_util.h"

namespace guanxi::connectors {
namespace {

constexpr char kNotAnEvent[] = "not a guanxi.v1.Event in protobuf JSON: ";

class JsonlParser final : public LineParser {
 public:
  void Line(int64_t number, std::string_view text, EventSink& sink) override {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return;  // blank
    // JSON text is UTF-8 (RFC 8259) and a NUL byte is nowhere allowed in it: the line is
    // checked whole, before the JSON parser, whose errors would quote the bad bytes.
    if (auto problem = TextProblem(text)) {
      sink.Reject(number, absl::StrCat(kNotAnEvent, *problem));
      return;
    }
    guanxi::v1::Event event;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;  // a misspelt field is an error, not silence
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &event, options);
    if (!status.ok()) {
      sink.Reject(number, absl::StrCat(kNotAnEvent, std::string(status.message())));
      return;
    }
    std::vector<guanxi::v1::Event> events;
    events.push_back(std::move(event));
    AcceptRecord(number, std::move(events), sink);
  }

  void Finish(EventSink&) override {}
};

}  // namespace

std::unique_ptr<LineParser> NewJsonlParser() { return std::make_unique<JsonlParser>(); }

}  // namespace guanxi::connectors
