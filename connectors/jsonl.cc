#include <string>

#include "absl/strings/str_cat.h"
#include "connectors/connector.h"
#include "engine/ingest/decode.h"
#include "google/protobuf/util/json_util.h"

namespace guanxi::connectors {
namespace {

class JsonlParser final : public LineParser {
 public:
  void Line(int64_t number, std::string_view text, EventSink& sink) override {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return;  // blank
    guanxi::v1::Event event;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;  // a misspelt field is an error, not silence
    const auto status = google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(text.data(), text.size()), &event, options);
    if (!status.ok()) {
      sink.Reject(number, absl::StrCat("not a guanxi.v1.Event in protobuf JSON: ",
                                       std::string(status.message())));
      return;
    }
    if (auto rejection = engine::ValidateEvent(event, {})) {
      sink.Reject(number, rejection->reason);
      return;
    }
    sink.Accept(std::move(event));
  }

  void Finish(EventSink&) override {}
};

}  // namespace

std::unique_ptr<LineParser> NewJsonlParser() { return std::make_unique<JsonlParser>(); }

}  // namespace guanxi::connectors
