#include "core/mem_stats.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace omni {

MemStats mem_stats() {
  MemStats m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    uint64_t* field = nullptr;
    if (line.rfind("VmRSS:", 0) == 0) field = &m.rss;
    else if (line.rfind("RssAnon:", 0) == 0) field = &m.rss_anon;
    else if (line.rfind("RssFile:", 0) == 0) field = &m.rss_file;
    else if (line.rfind("RssShmem:", 0) == 0) field = &m.rss_shmem;
    else if (line.rfind("VmHWM:", 0) == 0) field = &m.peak;
    if (!field) continue;
    const char* p = line.c_str() + line.find(':') + 1;
    unsigned long long kib = 0;
    if (std::sscanf(p, "%llu", &kib) == 1) *field = kib * 1024;  // the kernel prints kB
  }
  return m;
}

std::string mem_stats_line(const MemStats& m) {
  auto mib = [](uint64_t b) { return static_cast<double>(b) / (1 << 20); };
  char buf[160];
  std::snprintf(buf, sizeof buf, "rss %.1f MiB (anon %.1f, file %.1f), peak %.1f MiB", mib(m.rss),
                mib(m.rss_anon), mib(m.rss_file), mib(m.peak));
  return buf;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace omni
