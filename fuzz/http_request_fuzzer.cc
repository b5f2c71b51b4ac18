// The HTTP API's request handling (engine/query/http_server.h): the bytes a client sends
// on a connection (request line with its path, percent-encoding and query parameters,
// headers with the read or the admin token, a body: an erasure's JSON), answered by the
// server `guanxi run --http` runs (HttpServer::Answer: cpp-httplib's request parsing, our
// routes and handlers) over one partition holding a few customers with events, facts and
// warnings; an erasure asked for is built and dropped (no broker).
//
// Not covered: ?as_of= recomputations (the server has no data directory, so they answer
// 501 after the time is parsed), forwarding to other instances (no directory), the web
// view's files (the fuzzing build embeds none).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/scratch_dir.h"
#include "engine/config/config.h"
#include "engine/projection/projector.h"
#include "engine/query/http_server.h"
#include "engine/storage/data_dir.h"

namespace {

using guanxi::engine::EventLog;
using guanxi::engine::ProjectionStore;

constexpr int64_t kStart = 1'735'689'600;  // 2025-01-01

guanxi::v1::LogRecord Record(int n, const std::string& customer, int64_t at) {
  guanxi::v1::LogRecord record;
  guanxi::v1::Event& e = *record.mutable_event();
  e.set_event_id(absl::StrCat("e", n));
  e.set_customer_id(customer);
  e.mutable_occurred_at()->set_seconds(at);
  if (n % 3 == 2) {
    e.mutable_complaint()->set_complaint_id(absl::StrCat("k", n));
  } else {
    e.mutable_order()->mutable_amount()->set_currency("EUR");
    e.mutable_order()->mutable_amount()->set_minor_units(1000 + 37 * n);
  }
  record.mutable_source()->set_topic("guanxi.events");
  record.mutable_source()->set_offset(n);
  return record;
}

// One partition: customers c0..c9 (and "a/b c", an id to be percent-encoded) with a few
// events over a year, projected; the quiet ones have warnings.
struct Fixture {
  guanxi::ScratchDir dir{"guanxi_fuzz_http"};
  std::shared_ptr<EventLog> log;
  std::shared_ptr<ProjectionStore> store;
  std::unique_ptr<guanxi::engine::HttpServer> server;

  Fixture() {
    guanxi::v1::EngineConfig config = guanxi::engine::DefaultEngineConfig();
    guanxi::engine::EventLogOptions options;
    options.partition = 0;
    options.extra_column_families = ProjectionStore::ColumnFamilies();
    auto opened = EventLog::Open(guanxi::engine::PartitionDir(dir.path(), 0), options);
    if (!opened.ok()) __builtin_trap();
    log = std::move(*opened);
    auto attached = ProjectionStore::Attach(log.get());
    if (!attached.ok()) __builtin_trap();
    store = std::move(*attached);
    std::vector<guanxi::v1::LogRecord> records;
    for (int n = 0; n < 40; ++n) {
      const std::string customer = n % 11 == 10 ? "a/b c" : absl::StrCat("c", n % 10);
      records.push_back(Record(n, customer, kStart + (n % 10 < 5 ? 7 : 40) * 86'400 * n / 10));
    }
    records.push_back(Record(99, "c0", kStart + 400 * 86'400));
    if (!log->Append(absl::MakeSpan(records), {}).ok()) __builtin_trap();
    auto projector = guanxi::engine::PartitionProjector::Create(log.get(), store.get(),
                                                                {.partition = 0, .config = config});
    const std::atomic<bool> stop{false};
    if (!projector.ok() || !(*projector)->CatchUp(log->next_position(), stop).ok()) __builtin_trap();

    guanxi::engine::EngineStatus status;
    status.assigned = true;
    status.events_partitions = 1;
    status.partitions.push_back({.partition = 0, .next_offset = 41, .high_watermark = 41});
    status.batch_latency_buckets =
        std::vector<uint64_t>(std::size(guanxi::engine::kBatchLatencyBounds) + 1, 1);
    server = guanxi::engine::HttpServer::Unbound(
        {.bearer_token = "fuzz-token",
         .admin_token = "fuzz-admin",
         .partitions =
             [this] {
               return std::vector<guanxi::engine::PartitionView>{{0, log, store}};
             },
         .status = [status] { return status; },
         .config = config,
         // The erasure is built from the request and dropped: no broker here.
         .produce_erasure = [](const guanxi::v1::Event&) { return absl::OkStatus(); }})
                 .value();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();  // kept to the end: the stores stay open
  const std::string answer =
      fixture->server->Answer(std::string_view(reinterpret_cast<const char*>(data), size));
  (void)answer;
  return 0;
}
