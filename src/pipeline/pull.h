// `omni pull`: downloads models into the models folder, resumably and verified.
//   - a known name (the compiled-in registry below) or a URL;
//   - the body goes to FILE.part; an interrupted transfer resumes with `Range: bytes=N-`
//     (a server that ignores Range restarts from zero);
//   - SHA-256 is computed while downloading; the expected hash is the registry's, the caller's,
//     or the one the server states (Hugging Face's X-Linked-Etag for LFS files); a mismatch
//     deletes the part and leaves no final file;
//   - the finished file is fsync'ed and renamed into place atomically;
//   - a Piper voice is two files (`x.onnx` + `x.onnx.json`), both pulled.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace omni::pipeline {

struct PullFile {
  std::string url;
  std::string filename;  // name in the models folder
  std::string sha256;    // lower-case hex; empty: use the server's, else unverified
};

struct KnownModel {
  std::string name;
  std::string stage;  // llm, asr, tts, vision
  std::string description;
  std::vector<PullFile> files;
};

// The compiled-in registry.
const std::vector<KnownModel>& known_models();
const KnownModel* find_known_model(std::string_view name);

// $OMNI_MODELS, else $XDG_DATA_HOME/omni/models, else ~/.local/share/omni/models.
std::string default_models_dir();

struct PullProgress {
  std::string filename;
  uint64_t done = 0;
  uint64_t total = 0;  // 0: unknown
  uint64_t resumed_from = 0;
  bool finished = false;
};

struct PullOptions {
  std::string dir;  // empty: default_models_dir()
  std::function<void(const PullProgress&)> on_progress;
  std::function<void(const std::string&)> on_note;  // "resuming at ...", "server ignored Range"
  std::function<bool()> cancelled;  // polled during transfers; true stops with http::Cancelled
  int retries = 3;  // resumes after a broken transfer before giving up
  long connect_timeout_ms = 10000;
  long stall_timeout_s = 60;
};

struct PullResult {
  std::string path;
  std::string sha256;
  bool verified = false;      // compared with an expected hash
  bool already_present = false;
};

// Downloads one file (see the header comment). Throws omni::Error (404, disk full, checksum
// mismatch, connection) with the file and URL in the message.
PullResult pull_file(const PullFile& file, const PullOptions& options);

// The files behind a name or URL: the registry entry, or the URL's last path segment (plus the
// `.onnx.json` beside a `.onnx` voice). Throws omni::Error for an unknown name.
std::vector<PullFile> resolve_pull(const std::string& name_or_url, const std::string& sha256 = "");

std::vector<PullResult> pull(const std::string& name_or_url, const PullOptions& options,
                             const std::string& sha256 = "");

}  // namespace omni::pipeline
