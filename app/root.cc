#include "app/commands.h"

namespace guanxi::app {

Command RootCommand() {
  Command root{
      .name = "guanxi",
      .summary = "guanxi (关系): an event-sourced relationship-tracking engine.",
      .description =
          "Customer interactions arrive as protobuf events on Kafka, are appended to a\n"
          "RocksDB event log (one per Kafka partition), and feed projections that keep each\n"
          "customer's relationship score, lifecycle stage, classes and churn risk.\n"
          "Exit codes: 0 success, 1 failure, 2 usage error.",
  };
  root.Add(AuditCommand());
  root.Add(BrokerCommand());
  root.Add(ConnectCommand());
  root.Add(DemoCommand());
  root.Add(EraseCommand());
  root.Add(ExportCommand());
  root.Add(ModelCommand());
  root.Add(ReplayCommand());
  root.Add(RunCommand());
  root.Add(SimulateCommand());
  root.Add(TopicsCommand());
  root.Add(WatchCommand());
  return root;
}

}  // namespace guanxi::app
