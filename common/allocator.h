// The process's allocator policy. Called first thing in main, before any thread starts.
//
// The guanxi executables are linked with jemalloc (CMakeLists.txt, GUANXI_JEMALLOC; the
// target guanxi_allocator defines GUANXI_JEMALLOC), which needs nothing here: with its
// defaults the memory benchmark's peak RSS was 918 to 963 MiB (docs/storage.md, "The
// memory budget"). Without it (a build with -DGUANXI_JEMALLOC=OFF), glibc's malloc is tuned below.
#pragma once

#if defined(__GLIBC__) && !defined(GUANXI_JEMALLOC)
#include <malloc.h>
#endif

namespace guanxi {

// glibc only: blocks of 1 MiB and more (RocksDB's 2 MiB memtable arena blocks,
// librdkafka's fetch buffers of up to a partition's 1 MiB) are mapped on their own and
// unmapped when freed, so a flushed memtable or a consumed fetch goes back to the system.
// glibc starts there too (at 128 KiB) but raises the threshold to the largest mapped block
// freed, up to 32 MiB; from then on these blocks come from the heaps of its per-thread
// arenas, which they fragment: the memory benchmark's peak RSS was 1,097-1,222 MiB with
// that, 900-911 MiB with this.
inline void MapLargeAllocations() {
#if defined(__GLIBC__) && !defined(GUANXI_JEMALLOC)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace guanxi
