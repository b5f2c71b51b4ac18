#include "connectors/record_checks.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/utf8.h"
#include "engine/ingest/decode.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace guanxi::connectors {
namespace {

// The first Money in `message` (at any depth) whose currency is set but not ISO
// 4217-shaped, as "<field path>.currency: <problem>". An empty currency is the engine's
// default currency (guanxi.v1.Money).
std::optional<std::string> MoneyProblem(const google::protobuf::Message& message,
                                        const std::string& path) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const int count = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const google::protobuf::Message& child =
          field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                               : reflection->GetMessage(message, field);
      std::string child_path = absl::StrCat(path, path.empty() ? "" : ".", field->name());
      if (field->is_repeated()) absl::StrAppend(&child_path, "[", i, "]");
      if (child.GetDescriptor() == guanxi::v1::Money::descriptor()) {
        const std::string& currency = static_cast<const guanxi::v1::Money&>(child).currency();
        if (currency.empty()) continue;
        if (auto problem = CurrencyCodeProblem(currency)) {
          return absl::StrCat(child_path, ".currency: ", *problem);
        }
      } else if (auto problem = MoneyProblem(child, child_path)) {
        return problem;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> TextProblem(std::string_view text) {
  auto invalid = [&](size_t at) {
    return absl::StrCat("invalid UTF-8 at byte ", at + 1, " (0x",
                        absl::Hex(static_cast<unsigned char>(text[at]), absl::kZeroPad2), ")");
  };
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead == 0) return absl::StrCat("a NUL byte at byte ", i + 1);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0) return invalid(i);
    i += length;
  }
  return std::nullopt;
}

std::optional<std::string> FieldsProblem(const std::vector<std::string>& names,
                                         const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (auto problem = TextProblem(fields[i])) {
      return absl::StrCat(i < names.size() ? names[i] : absl::StrCat("field ", i + 1), ": ",
                          *problem);
    }
  }
  return std::nullopt;
}

std::optional<std::string> CurrencyCodeProblem(std::string_view code) {
  bool shaped = code.size() == 3;
  for (char c : code) shaped = shaped && c >= 'A' && c <= 'Z';
  if (shaped) return std::nullopt;
  return absl::StrCat("'", absl::string_view(code.data(), code.size()),
                      "' is not an ISO 4217 code (three capital letters)");
}

void AcceptRecord(int64_t line, std::vector<guanxi::v1::Event> events, EventSink& sink) {
  for (const guanxi::v1::Event& event : events) {
    std::optional<std::string> problem;
    if (auto refused = engine::ValidateEvent(event, {})) {
      problem = std::move(refused->reason);
    } else if (auto future = engine::CheckNotFromTheFuture(event, absl::ToUnixMillis(absl::Now()),
                                                           {})) {
      problem = std::move(future->reason);  // the engine would dead-letter it
    } else if (auto money = MoneyProblem(event, "")) {
      problem = std::move(money);
    } else {
      problem = sink.Refusal(event);
    }
    if (problem) {
      sink.Reject(line, *std::move(problem));
      return;
    }
  }
  for (guanxi::v1::Event& event : events) sink.Accept(std::move(event));
}

}  // namespace guanxi::connectors
