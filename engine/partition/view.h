// A read-only handle on one partition's store, for queries (the HTTP API, the live
// projection views): the partition's event log and projection store, kept open while a
// reader holds the handle, even if the partition is revoked meanwhile; if it is assigned
// to this instance again meanwhile, the engine writes to this same store again. Hold one
// for one query: a revoked partition's store stays open (memory, file handles) until its
// last handle goes. Handed out by PartitionManager::Views().
#pragma once

#include <cstdint>
#include <memory>

#include "engine/storage/event_log.h"
#include "engine/storage/projection_store.h"

namespace guanxi::engine {

struct PartitionView {
  int32_t partition = 0;
  std::shared_ptr<const EventLog> log;
  std::shared_ptr<const ProjectionStore> store;
};

}  // namespace guanxi::engine
