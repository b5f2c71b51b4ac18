// The process's allocator policy (glibc malloc). Called first thing in main, before any
// thread starts.
#pragma once

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace guanxi {

// Blocks of 1 MiB and more (RocksDB's 2 MiB memtable arena blocks, librdkafka's fetch
// buffers of up to a partition's 1 MiB) are mapped on their own and unmapped when freed,
// so a flushed memtable or a consumed fetch goes back to the system. glibc starts there
// too (at 128 KiB) but raises the threshold to the largest mapped block freed, up to 32
// MiB; from then on these blocks come from the heaps of its per-thread arenas, which they
// fragment: the memory benchmark's peak RSS was 1,097-1,222 MiB with that, 900-911 MiB
// with this (docs/storage.md, "The memory budget").
inline void MapLargeAllocations() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace guanxi
