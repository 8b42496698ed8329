#include "server/transcription.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "asr/audio_io.h"
#include "asr/wav.h"
#include "core/error.h"
#include "server/openai.h"

namespace omni::server {

using nlohmann::json;

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

AsrEngine::AsrEngine(const std::string& model_path, int threads)
    : transcriber_(std::make_unique<asr::Transcriber>(model_path, threads)),
      id_(std::filesystem::path(model_path).stem().string()) {}

bool AsrEngine::multilingual() const { return transcriber_->model().tokens().multilingual; }

asr::Audio AsrEngine::decode(std::span<const uint8_t> file, const std::string& name) {
  // Uploads are bounded (--max-body) but compressed audio is not: cap what a file may decode to
  // (2^25 samples = 128 MiB of floats, 35 min of 16 kHz mono) so a small FLAC cannot claim hours.
  constexpr uint64_t kMaxSamples = uint64_t{1} << 25;
  asr::Audio audio;
  if (asr::looks_like_wav(file)) {
    try {
      audio = asr::read_wav(file, name);  // PCM WAV decodes to at most one sample per input byte
    } catch (const asr::WavUnsupportedEncoding&) {
      audio = asr::sndfile_decode_memory(file, name, kMaxSamples);
    }
  } else {
    audio = asr::sndfile_decode_memory(file, name, kMaxSamples);
  }
  if (audio.frames() == 0) throw FormatError(name + ": the audio holds no samples");
  return audio;
}

asr::Transcript AsrEngine::transcribe(const asr::Audio& audio, const asr::TranscribeOptions& options) {
  std::lock_guard lock(mu_);
  return transcriber_->transcribe(audio, options);
}

asr::Transcript AsrEngine::transcribe(std::span<const uint8_t> file, const std::string& name,
                                      const asr::TranscribeOptions& options, double* seconds) {
  const asr::Audio audio = decode(file, name);
  if (seconds) *seconds = audio.seconds();
  return transcribe(audio, options);
}

TranscriptFormat parse_transcript_format(const std::string& v) {
  if (v == "json") return TranscriptFormat::kJson;
  if (v == "text") return TranscriptFormat::kText;
  if (v == "srt") return TranscriptFormat::kSrt;
  if (v == "vtt") return TranscriptFormat::kVtt;
  if (v == "verbose_json") return TranscriptFormat::kVerboseJson;
  throw ApiError(400, "Invalid value for 'response_format': '" + v +
                          "'. Supported values are: 'json', 'text', 'srt', 'verbose_json' and 'vtt'.",
                 "response_format", "invalid_value");
}

std::string subtitle_time(int64_t cs, char sep) {
  if (cs < 0) cs = 0;
  const int64_t ms = cs * 10;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld",
                static_cast<long long>(ms / 3600000), static_cast<long long>(ms / 60000 % 60),
                static_cast<long long>(ms / 1000 % 60), sep, static_cast<long long>(ms % 1000));
  return buf;
}

FormattedTranscript format_transcript(const asr::Transcript& t, TranscriptFormat format,
                                      const std::string& task, const std::string& language,
                                      double duration) {
  const std::string text = trim(t.text);
  switch (format) {
    case TranscriptFormat::kJson:
      return {dump(json{{"text", text}}), "application/json"};
    case TranscriptFormat::kText:
      return {text + "\n", "text/plain; charset=utf-8"};
    case TranscriptFormat::kSrt: {
      std::string out;
      int n = 0;
      for (const auto& s : t.segments) {
        const std::string st = trim(s.text);
        if (st.empty()) continue;
        out += std::to_string(++n) + "\n" + subtitle_time(s.t0, ',') + " --> " +
               subtitle_time(s.t1, ',') + "\n" + st + "\n\n";
      }
      return {out, "text/plain; charset=utf-8"};
    }
    case TranscriptFormat::kVtt: {
      std::string out = "WEBVTT\n\n";
      for (const auto& s : t.segments) {
        const std::string st = trim(s.text);
        if (st.empty()) continue;
        out += subtitle_time(s.t0, '.') + " --> " + subtitle_time(s.t1, '.') + "\n" + st + "\n\n";
      }
      return {out, "text/vtt; charset=utf-8"};
    }
    case TranscriptFormat::kVerboseJson: {
      json segs = json::array();
      int id = 0;
      for (const auto& s : t.segments) {
        json tokens = json::array();
        double logprob = 0;
        for (const auto& tk : s.tokens) {
          tokens.push_back(tk.id);
          logprob += tk.plog;
        }
        segs.push_back({{"id", id++},
                        {"seek", s.t0},
                        {"start", s.t0 / 100.0},
                        {"end", s.t1 / 100.0},
                        {"text", s.text},
                        {"tokens", tokens},
                        {"temperature", 0.0},
                        {"avg_logprob", s.tokens.empty() ? 0.0 : logprob / s.tokens.size()},
                        {"no_speech_prob", s.no_speech_prob}});
      }
      json out = {{"task", task}, {"language", language},
                  {"duration", std::round(duration * 1000) / 1000}, {"text", text},
                  {"segments", segs}};
      return {dump(out), "application/json"};
    }
  }
  return {};
}

}  // namespace omni::server
