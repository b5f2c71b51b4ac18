// The call center's exports: calls and complaints (docs/connectors.md).
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/connector.h"
#include "connectors/csv_record.h"
#include "google/protobuf/util/time_util.h"

namespace guanxi::connectors {

using google::protobuf::util::TimeUtil;

std::unique_ptr<LineParser> NewCallCenterCallsParser() {
  return NewCsvParser(
      "callcenter",
      {"call_id", "customer_id", "start", "end", "direction", "reason", "resolved", "sentiment",
       "agent", "useful_information"},
      [](CsvRow& row, std::vector<v1::Event>& events) {
        const std::string& id = row.Id("call_id");
        const std::string& customer = row.Id("customer_id");
        const auto start = row.Time("start");
        const auto end = row.Time("end");
        const auto direction = row.Enum<v1::CallDirection>(
            "direction",
            {{"inbound", v1::CALL_DIRECTION_INBOUND}, {"outbound", v1::CALL_DIRECTION_OUTBOUND}});
        const bool resolved = row.Bool("resolved");
        const auto sentiment = row.Number("sentiment", -1, 1);
        const bool useful = row.Bool("useful_information", false);
        const int64_t seconds = TimeUtil::DurationToSeconds(end - start);
        if (end < start) row.Fail("end", "before start");
        if (seconds > std::numeric_limits<int32_t>::max()) row.Fail("end", "implausibly late");
        if (!row.ok()) return;
        v1::Event event = MakeEvent(absl::StrCat("callcenter-call-", id), customer, start);
        v1::Call* call = event.mutable_call();
        call->set_call_id(id);
        call->set_direction(direction);
        call->set_duration_seconds(static_cast<int32_t>(seconds));
        call->set_reason(row.Text("reason"));
        call->set_resolved(resolved);
        if (sentiment) call->set_sentiment(*sentiment);
        call->set_agent(row.Text("agent"));
        call->set_useful_information(useful);
        events.push_back(std::move(event));
      });
}

std::unique_ptr<LineParser> NewCallCenterComplaintsParser() {
  return NewCsvParser(
      "callcenter",
      {"complaint_id", "customer_id", "opened_at", "severity", "category", "channel", "description",
       "resolved_at", "customer_satisfied", "resolution"},
      [](CsvRow& row, std::vector<v1::Event>& events) {
        const std::string& id = row.Id("complaint_id");
        const std::string& customer = row.Id("customer_id");
        const auto opened = row.Time("opened_at");
        const auto severity = row.Enum<v1::Severity>("severity",
                                                     {{"low", v1::SEVERITY_LOW},
                                                      {"medium", v1::SEVERITY_MEDIUM},
                                                      {"high", v1::SEVERITY_HIGH},
                                                      {"critical", v1::SEVERITY_CRITICAL}},
                                                     v1::SEVERITY_UNSPECIFIED);
        const auto resolved = row.OptionalTime("resolved_at");
        const bool satisfied = row.Bool("customer_satisfied", false);
        if (resolved && *resolved < opened) row.Fail("resolved_at", "before opened_at");
        if (!resolved &&
            (!row.Text("customer_satisfied").empty() || !row.Text("resolution").empty())) {
          row.Fail("resolved_at", "empty, yet customer_satisfied or resolution is set");
        }
        if (!row.ok()) return;
        v1::Event opened_event =
            MakeEvent(absl::StrCat("callcenter-complaint-", id), customer, opened);
        v1::Complaint* complaint = opened_event.mutable_complaint();
        complaint->set_complaint_id(id);
        complaint->set_severity(severity);
        complaint->set_category(row.Text("category"));
        complaint->set_channel(row.Text("channel"));
        complaint->set_description(row.Text("description"));
        events.push_back(std::move(opened_event));
        if (!resolved) return;
        v1::Event resolved_event =
            MakeEvent(absl::StrCat("callcenter-complaint-", id, "-resolved"), customer, *resolved);
        v1::ComplaintResolved* resolution = resolved_event.mutable_complaint_resolved();
        resolution->set_complaint_id(id);
        resolution->set_customer_satisfied(satisfied);
        resolution->set_resolution(row.Text("resolution"));
        events.push_back(std::move(resolved_event));
      });
}

}  // namespace guanxi::connectors
