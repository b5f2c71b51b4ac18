// The `guanxi` subcommands. Each returns its Command (flags, help, body); main.cc
// assembles them under the root command. This is the one place where the parts of the
// engine are wired together.
#pragma once

#include "app/cli.h"

namespace guanxi::app {

// The whole command tree, as `guanxi` runs it.
Command RootCommand();

Command AuditCommand();
Command AuditTrailCommand();  // `audit trail`, added by AuditCommand
Command BrokerCommand();
Command ConnectCommand();
Command DemoCommand();
Command EraseCommand();
Command ExportCommand();
Command ModelCommand();
Command ReplayCommand();
Command RunCommand();
Command SimulateCommand();
Command TopicsCommand();
Command WatchCommand();

}  // namespace guanxi::app
