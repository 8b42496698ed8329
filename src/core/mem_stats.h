// Resident memory of this process, split the way the kernel accounts it, for reports such as
// `omni bench llm --json` and `omni generate --mem-report`. Read from /proc/self/status; on a
// system without it every field is 0.
#pragma once

#include <cstdint>
#include <string>

namespace omni {

struct MemStats {
  uint64_t rss = 0;        // VmRSS: resident now
  uint64_t rss_anon = 0;   // RssAnon: heap, stacks, anonymous maps (our own allocations)
  uint64_t rss_file = 0;   // RssFile: touched pages of mapped files (model weights, binaries)
  uint64_t rss_shmem = 0;  // RssShmem
  uint64_t peak = 0;       // VmHWM: the largest VmRSS so far
};

// All values in bytes.
MemStats mem_stats();

// "rss 512.0 MiB (anon 40.1, file 471.9), peak 515.2 MiB" for logs.
std::string mem_stats_line(const MemStats& m);

// Resets VmHWM to the current VmRSS (Linux: "5" into /proc/self/clear_refs), so a later peak
// excludes a large temporary freed before it, such as a benchmark's probe buffer. Returns false
// where the kernel does not offer it.
bool reset_peak_rss();

// Returns freed heap memory at the top and in the middle of glibc's arenas to the system (no-op
// elsewhere): large temporaries freed after model load otherwise stay resident.
void release_free_heap();

}  // namespace omni
