// Speech to text for the server: the Whisper engine behind a lock (one transcription at a time;
// the engine's pool is shared with nothing else), and the response formats of OpenAI's
// /v1/audio/transcriptions and /translations (json, text, srt, vtt, verbose_json).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "asr/whisper.h"

namespace omni::server {

class AsrEngine {
 public:
  // Throws omni::Error / FormatError for an unusable model file.
  AsrEngine(const std::string& model_path, int threads);
  // The id /v1/models lists (file name without .bin / ggml- prefix kept as is).
  const std::string& id() const { return id_; }
  // Decodes any audio container we read (WAV, FLAC, Ogg, MP3, ...) and transcribes it.
  // Throws omni::FormatError for undecodable audio.
  asr::Transcript transcribe(std::span<const uint8_t> file, const std::string& name,
                             const asr::TranscribeOptions& options, double* seconds = nullptr);
  // The two halves: decoding (FormatError for undecodable or empty audio, capped at 2^25
  // samples) and recognition (one at a time; options.on_window streams it).
  static asr::Audio decode(std::span<const uint8_t> file, const std::string& name);
  asr::Transcript transcribe(const asr::Audio& audio, const asr::TranscribeOptions& options);
  bool multilingual() const;

 private:
  std::unique_ptr<asr::Transcriber> transcriber_;
  std::string id_;
  std::mutex mu_;
};

enum class TranscriptFormat { kJson, kText, kSrt, kVtt, kVerboseJson };

// Parses `response_format` (ApiError 400 for anything else).
TranscriptFormat parse_transcript_format(const std::string& value);

// The response body and its content type.
struct FormattedTranscript {
  std::string body;
  std::string content_type;
};
FormattedTranscript format_transcript(const asr::Transcript& t, TranscriptFormat format,
                                      const std::string& task, const std::string& language,
                                      double duration_seconds);

// "00:01:02,345" (srt) / "00:01:02.345" (vtt) for a time in centiseconds.
std::string subtitle_time(int64_t centiseconds, char decimal_separator);

}  // namespace omni::server
