#include "pipeline/pull.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/sha256.h"
#include "pipeline/http_client.h"

namespace omni::pipeline {
namespace fs = std::filesystem;
namespace {

const std::string kHf = "https://huggingface.co/";

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Local write failures: never retried (the next attempt would fail the same way).
class WriteError : public Error {
 public:
  using Error::Error;
};

// A file descriptor that reports short writes and ENOSPC with the file's name.
class OutFile {
 public:
  OutFile(const std::string& path, bool append) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (fd_ < 0) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  }
  ~OutFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;
  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOSPC || errno == EDQUOT) {
          throw WriteError(path_ + ": disk full (" + std::strerror(errno) +
                      "); free some space and run the same pull again to resume");
        }
        throw WriteError(path_ + ": write failed: " + std::strerror(errno));
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void sync_and_close() {
    if (::fsync(fd_) != 0 && errno != EINVAL) {
      throw Error(path_ + ": fsync failed: " + std::strerror(errno));
    }
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw Error(path_ + ": close failed: " + std::strerror(errno));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Feeds the first `bytes` of a file (the already-downloaded part) into the hash.
void hash_prefix(const std::string& path, Sha256& h) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(path + ": cannot read: " + std::strerror(errno));
  std::vector<uint8_t> buf(1 << 16);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) h.update({buf.data(), n});
}

// "bytes 100-199/1000" → (100, 1000); total 0 when "*".
bool parse_content_range(const std::string& v, uint64_t* start, uint64_t* total) {
  unsigned long long a = 0, b = 0, t = 0;
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
    *start = a;
    *total = t;
    return true;
  }
  if (std::sscanf(v.c_str(), "bytes %llu-%llu/*", &a, &b) == 2) {
    *start = a;
    *total = 0;
    return true;
  }
  return false;
}

// Hugging Face states an LFS file's SHA-256 as its (linked) ETag.
std::string server_sha256(const http::Response& r) {
  for (const char* h : {"x-linked-etag", "etag"}) {
    const std::string* v = r.header(h);
    if (!v) continue;
    std::string s = *v;
    if (s.starts_with("W/")) s = s.substr(2);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    if (is_sha256_hex(s)) return s;
  }
  return "";
}

struct Attempt {
  bool complete = false;
  std::string server_hash;
};

// One HTTP transfer into `part`, resuming from its current size. Returns when the body ended;
// throws on errors (the part keeps what arrived).
Attempt transfer(const PullFile& file, const std::string& part, const PullOptions& o, Sha256& hash,
                 uint64_t* have) {
  http::Request req;
  req.url = file.url;
  req.cancelled = o.cancelled;
  req.connect_timeout_ms = o.connect_timeout_ms;
  req.stall_timeout_s = o.stall_timeout_s;
  if (*have > 0) req.range_from = static_cast<int64_t>(*have);
  std::unique_ptr<OutFile> out;
  PullProgress progress;
  progress.filename = file.filename;
  Attempt a;
  const auto on_headers = [&](const http::Response& r) {
    a.server_hash = server_sha256(r);
    uint64_t start = 0, total = 0;
    const std::string* cr = r.header("content-range");
    if (r.status == 206 && cr && parse_content_range(*cr, &start, &total)) {
      if (start != *have) {
        throw Error(file.url + ": server resumed at byte " + std::to_string(start) +
                    " instead of " + std::to_string(*have));
      }
      progress.total = total;
      progress.resumed_from = *have;
      out = std::make_unique<OutFile>(part, true);
    } else {
      // A plain 200 (the server ignores Range, or this is a fresh start): begin again.
      if (*have > 0 && o.on_note) {
        o.on_note(file.filename + ": server does not support resuming; restarting from zero");
      }
      *have = 0;
      hash.reset();
      const std::string* cl = r.header("content-length");
      if (cl) progress.total = std::strtoull(cl->c_str(), nullptr, 10);
      out = std::make_unique<OutFile>(part, false);
    }
    progress.done = *have;
    if (o.on_progress) o.on_progress(progress);
  };
  const auto on_data = [&](std::string_view chunk) {
    out->write(chunk);
    hash.update(chunk);
    *have += chunk.size();
    progress.done = *have;
    if (o.on_progress) o.on_progress(progress);
  };
  http::perform(req, on_data, on_headers);
  if (!out) out = std::make_unique<OutFile>(part, *have > 0);  // empty body
  out->sync_and_close();
  if (progress.total > 0 && *have < progress.total) {
    throw Error(file.url + ": transfer ended at byte " + std::to_string(*have) + " of " +
                std::to_string(progress.total));
  }
  progress.finished = true;
  if (o.on_progress) o.on_progress(progress);
  a.complete = true;
  return a;
}

std::string last_segment(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    throw Error(url + ": cannot tell a file name from the URL");
  }
  return name;
}

}  // namespace

const std::vector<KnownModel>& known_models() {
  // Pinned hashes are left empty where we have not verified them ourselves: Hugging Face states
  // each LFS file's SHA-256 in its response headers, and the download is checked against that.
  static const std::vector<KnownModel> models = {
      {"qwen2.5-0.5b-instruct-q4_k_m", "llm", "Qwen2.5 0.5B Instruct, Q4_K_M GGUF",
       {{kHf + "Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf",
         "qwen2.5-0.5b-instruct-q4_k_m.gguf", ""}}},
      {"smollm2-360m-instruct-q8_0", "llm", "SmolLM2 360M Instruct, Q8_0 GGUF",
       {{kHf + "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/resolve/main/smollm2-360m-instruct-q8_0.gguf",
         "smollm2-360m-instruct-q8_0.gguf", ""}}},
      {"whisper-tiny.en", "asr", "Whisper tiny.en (whisper.cpp ggml)",
       {{kHf + "ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin", "ggml-tiny.en.bin", ""}}},
      {"whisper-base.en", "asr", "Whisper base.en (whisper.cpp ggml)",
       {{kHf + "ggerganov/whisper.cpp/resolve/main/ggml-base.en.bin", "ggml-base.en.bin", ""}}},
      {"whisper-base", "asr", "Whisper base, multilingual (whisper.cpp ggml)",
       {{kHf + "ggerganov/whisper.cpp/resolve/main/ggml-base.bin", "ggml-base.bin", ""}}},
      {"piper-en_US-lessac-medium", "tts", "Piper voice en_US lessac (medium)",
       {{kHf + "rhasspy/piper-voices/resolve/main/en/en_US/lessac/medium/en_US-lessac-medium.onnx",
         "en_US-lessac-medium.onnx", ""},
        {kHf + "rhasspy/piper-voices/resolve/main/en/en_US/lessac/medium/en_US-lessac-medium.onnx.json",
         "en_US-lessac-medium.onnx.json", ""}}},
      {"piper-en_GB-alan-medium", "tts", "Piper voice en_GB alan (medium)",
       {{kHf + "rhasspy/piper-voices/resolve/main/en/en_GB/alan/medium/en_GB-alan-medium.onnx",
         "en_GB-alan-medium.onnx", ""},
        {kHf + "rhasspy/piper-voices/resolve/main/en/en_GB/alan/medium/en_GB-alan-medium.onnx.json",
         "en_GB-alan-medium.onnx.json", ""}}},
  };
  return models;
}

const KnownModel* find_known_model(std::string_view name) {
  for (const auto& m : known_models()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string default_models_dir() {
  if (const char* e = std::getenv("OMNI_MODELS"); e && *e) return e;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/omni/models";
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw Error("cannot find the models folder: set OMNI_MODELS or HOME");
  return std::string(home) + "/.local/share/omni/models";
}

std::vector<PullFile> resolve_pull(const std::string& name_or_url, const std::string& sha256) {
  if (!sha256.empty() && !is_sha256_hex(sha256)) {
    throw Error("--sha256 must be 64 lower-case hex digits, got '" + sha256 + "'");
  }
  if (name_or_url.starts_with("http://") || name_or_url.starts_with("https://")) {
    std::vector<PullFile> files = {{name_or_url, last_segment(name_or_url), sha256}};
    // Piper's layout: the voice's config sits beside its model as NAME.onnx.json.
    const std::string base = name_or_url.substr(0, name_or_url.find_first_of("?#"));
    if (base.ends_with(".onnx")) {
      const std::string rest = name_or_url.substr(base.size());
      files.push_back({base + ".json" + rest, files[0].filename + ".json", ""});
    }
    return files;
  }
  const KnownModel* m = find_known_model(name_or_url);
  if (!m) {
    std::string names;
    for (const auto& k : known_models()) names += "\n  " + k.name;
    throw Error("unknown model '" + name_or_url + "' (give a URL or one of:" + names + ")");
  }
  std::vector<PullFile> files = m->files;
  if (!sha256.empty()) {
    if (files.size() != 1) throw Error(name_or_url + ": --sha256 applies to single-file models only");
    files[0].sha256 = sha256;
  }
  return files;
}

PullResult pull_file(const PullFile& file, const PullOptions& o) {
  const std::string dir = o.dir.empty() ? default_models_dir() : o.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the models folder: " + ec.message());
  PullResult result;
  result.path = (fs::path(dir) / file.filename).string();
  const std::string part = result.path + ".part";

  if (fs::exists(result.path)) {
    if (file.sha256.empty()) {
      result.already_present = true;
      return result;
    }
    result.sha256 = sha256_file(result.path);
    if (result.sha256 == file.sha256) {
      result.already_present = result.verified = true;
      return result;
    }
    if (o.on_note) o.on_note(file.filename + ": existing file has the wrong checksum; downloading again");
  }

  uint64_t have = fs::is_regular_file(part) ? fs::file_size(part) : 0;
  Sha256 hash;
  if (have > 0) {
    hash_prefix(part, hash);
    if (o.on_note) o.on_note(file.filename + ": resuming at byte " + std::to_string(have));
  }
  Attempt a;
  for (int attempt = 0;; ++attempt) {
    try {
      a = transfer(file, part, o, hash, &have);
      break;
    } catch (const http::HttpError& e) {
      if (e.status() == 416 && have > 0) {
        // The part is no prefix of what the server has now: start over.
        fs::remove(part);
        have = 0;
        hash.reset();
        if (attempt < o.retries) continue;
      }
      if (e.status() == 404) {
        throw Error(file.filename + ": not found at " + file.url + " (HTTP 404)");
      }
      throw;
    } catch (const http::Cancelled&) {
      throw;
    } catch (const WriteError&) {
      throw;
    } catch (const Error& e) {
      // A broken transfer is retried from where it stopped.
      const std::string what = e.what();
      if (attempt >= o.retries) {
        throw Error(what + " (" + std::to_string(have) +
                    " bytes kept; run the same pull again to resume)");
      }
      hash.reset();
      if (fs::is_regular_file(part)) hash_prefix(part, hash);
      have = fs::is_regular_file(part) ? fs::file_size(part) : 0;
      if (o.on_note) o.on_note(file.filename + ": " + what + "; retrying from byte " + std::to_string(have));
    }
  }
  result.sha256 = hash.hex_digest();
  const std::string expected = !file.sha256.empty() ? file.sha256 : a.server_hash;
  if (!expected.empty()) {
    if (result.sha256 != expected) {
      fs::remove(part, ec);
      throw Error(file.filename + ": checksum mismatch (expected sha256 " + expected + ", got " +
                  result.sha256 + "); the download was deleted");
    }
    result.verified = true;
  }
  fs::rename(part, result.path, ec);
  if (ec) throw Error(result.path + ": cannot move the download into place: " + ec.message());
  return result;
}

std::vector<PullResult> pull(const std::string& name_or_url, const PullOptions& options,
                             const std::string& sha256) {
  std::vector<PullResult> out;
  for (const PullFile& f : resolve_pull(name_or_url, sha256)) out.push_back(pull_file(f, options));
  return out;
}

}  // namespace omni::pipeline
