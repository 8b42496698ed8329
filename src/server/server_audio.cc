// The speech endpoints: /v1/audio/transcriptions and /translations (multipart upload → Whisper)
// and /v1/audio/speech (JSON → espeak-ng / Piper, streamed as it is synthesised).
#include <cmath>

#include "asr/audio.h"
#include "asr/audio_io.h"
#include "asr/whisper.h"
#include "server/server_impl.h"

namespace omni::server {

using nlohmann::json;

namespace {

// Model names a speech request may use: ours, OpenAI's, and "omni".
bool is_tts_model(const std::string& m) {
  return m == "omni" || m == "tts-1" || m == "tts-1-hd" || m == "gpt-4o-mini-tts";
}

std::string form_field(const httplib::Request& req, const char* key) {
  return req.has_file(key) ? req.get_file_value(key).content : "";
}

double form_number(const httplib::Request& req, const char* key, double lo, double hi, double dflt) {
  if (!req.has_file(key)) return dflt;
  const std::string v = req.get_file_value(key).content;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !std::isfinite(d)) {
    throw ApiError(400, "Invalid type for '" + std::string(key) + "': expected a number.", key,
                   "invalid_type");
  }
  if (d < lo || d > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "Invalid value for '%s': expected a number from %g to %g.", key,
                  lo, hi);
    throw ApiError(400, buf, key, "invalid_value");
  }
  return d;
}

}  // namespace

AsrEngine& Server::Impl::require_asr(const std::string& what) const {
  if (!asr) {
    throw ApiError(400, what + " needs a speech recognition model: start omni serve with "
                               "--asr-model FILE (a whisper ggml model).", "", "asr_not_loaded");
  }
  return *asr;
}

void Server::Impl::transcriptions(const httplib::Request& req, httplib::Response& res,
                                  bool translate) {
  if (!req.is_multipart_form_data()) {
    throw ApiError(400, "Expected a multipart/form-data body with a 'file' field.", "",
                   "invalid_content_type");
  }
  if (!req.has_file("model")) {
    throw ApiError(400, "Missing required parameter: 'model'.", "model", "missing_required_parameter");
  }
  const std::string m = form_field(req, "model");
  if (!asr || (m != asr->id() && m != "whisper-1" && m != "omni")) {
    throw ApiError(404, "The model '" + m + "' does not exist" +
                            (asr ? "; this server transcribes with '" + asr->id() + "' (or 'whisper-1')."
                                 : ": this server has no speech recognition model (--asr-model)."),
                   "model", "model_not_found");
  }
  if (!req.has_file("file") || req.get_file_value("file").content.empty()) {
    throw ApiError(400, "Missing required parameter: 'file'.", "file", "missing_required_parameter");
  }
  const auto file = req.get_file_value("file");
  const TranscriptFormat format = parse_transcript_format(
      req.has_file("response_format") ? form_field(req, "response_format") : "json");
  form_number(req, "temperature", 0, 1, 0);  // validated; decoding is greedy (temperature 0)
  if (req.has_file("stream") && form_field(req, "stream") == "true") {
    throw ApiError(400, "Streaming is not supported for the whisper model: omit 'stream'.", "stream",
                   "unsupported_value");
  }
  if (!form_field(req, "prompt").empty()) {
    throw ApiError(400, "'prompt' is not supported by this server's whisper engine yet.", "prompt",
                   "unsupported_parameter");
  }
  for (const char* k : {"timestamp_granularities[]", "timestamp_granularities"}) {
    if (req.has_file(k) && form_field(req, k) != "segment") {
      throw ApiError(400, "Only 'segment' timestamp granularity is supported.", k, "invalid_value");
    }
  }
  asr::TranscribeOptions opt;
  opt.translate = translate;
  std::string language = "en";
  if (!translate && req.has_file("language")) {
    language = form_field(req, "language");
    if (asr::whisper_language_index(language) < 0) {
      throw ApiError(400, "Invalid language '" + language + "'. Language parameter must be "
                          "specified in ISO-639-1 format.", "language", "invalid_language_format");
    }
  }
  opt.language = language;
  double seconds = 0;
  const auto t0 = Clock::now();
  asr::Transcript t;
  try {
    t = asr->transcribe(std::span(reinterpret_cast<const uint8_t*>(file.content.data()), file.content.size()),
                        file.filename.empty() ? "file" : file.filename, opt, &seconds);
  } catch (const FormatError& e) {
    throw ApiError(400, std::string("The audio file could not be decoded: ") + e.what(), "file",
                   "invalid_audio");
  }
  metrics.record_stage("asr", std::chrono::duration<double>(Clock::now() - t0).count());
  const auto out = format_transcript(t, format, translate ? "translate" : "transcribe",
                                     translate ? "en" : language, seconds);
  res.set_content(out.body, out.content_type);
}

void Server::Impl::speech_endpoint(const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  const std::string m = require_string(body, "model");
  if (!is_tts_model(m)) {
    throw ApiError(404, "The model '" + m + "' does not exist: use 'tts-1', 'tts-1-hd', "
                        "'gpt-4o-mini-tts' or 'omni'.", "model", "model_not_found");
  }
  const std::string input = require_string(body, "input");
  if (input.empty()) throw ApiError(400, "Invalid 'input': empty string.", "input", "invalid_value");
  if (input.size() > 4096) {
    throw ApiError(400, "Invalid 'input': string too long. Expected a string with maximum length "
                        "4096, but got a string with length " + std::to_string(input.size()) + ".",
                   "input", "string_above_max_length");
  }
  SpeechRequest sr;
  sr.voice = require_string(body, "voice");
  speech->check_voice(sr.voice);
  if (auto it = body.find("speed"); it != body.end() && !it->is_null()) {
    if (!it->is_number()) throw ApiError(400, "Invalid type for 'speed': expected a number.", "speed", "invalid_type");
    const double s = it->get<double>();
    if (!(s >= 0.25 && s <= 4.0)) {
      throw ApiError(400, "Invalid value for 'speed': expected a number from 0.25 to 4.", "speed", "invalid_value");
    }
    sr.speed = static_cast<float>(s);
  }
  // OpenAI's default is mp3; ours is wav, which needs no encoder and streams.
  std::string format = "wav";
  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) throw ApiError(400, "Invalid type for 'response_format': expected a string.", "response_format", "invalid_type");
    format = it->get<std::string>();
  }
  if (format != "wav" && format != "pcm") {
    if (format == "flac" || format == "mp3" || format == "opus") {
      const EncodedAudio a = speak_all(input, sr, format);
      res.set_content(a.bytes, a.content_type);
      return;
    }
    throw ApiError(400, "Invalid value for 'response_format': '" + format + "'. Supported values "
                        "are: 'wav', 'pcm' (streamed), 'flac', 'mp3' and 'opus'.", "response_format",
                   "invalid_value");
  }
  // Streamed: the WAV header (sizes unknown, 0xFFFFFFFF) then each sentence's samples as soon
  // as they exist. A failed write means the client left: synthesis stops.
  const bool wav = format == "wav";
  SpeechEngine* engine = speech.get();
  Metrics* mt = &metrics;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Sample-Rate", std::to_string(kSpeechSampleRate));
  res.set_chunked_content_provider(
      wav ? "audio/wav" : "audio/pcm",
      [engine, mt, input, sr, wav](size_t, httplib::DataSink& sink) {
        if (wav) {
          const std::string h = wav_header_s16(kSpeechSampleRate);
          if (!sink.write(h.data(), h.size())) return false;
        }
        const auto t0 = Clock::now();
        bool ok = false;
        try {
          ok = engine->synthesize(input, sr, [&](std::span<const int16_t> pcm) {
            return sink.is_writable() &&
                   sink.write(reinterpret_cast<const char*>(pcm.data()), pcm.size() * 2);
          });
        } catch (const std::exception&) {
          return false;  // headers are gone: dropping the connection is the only signal left
        }
        mt->record_stage("tts", std::chrono::duration<double>(Clock::now() - t0).count());
        if (!ok) {
          mt->add_cancelled();
          return false;
        }
        sink.done();
        return true;
      });
}

void Server::Impl::setup_audio_routes() {
  http.Post("/v1/audio/transcriptions",
            guarded([this](const auto& q, auto& r) { transcriptions(q, r, false); }));
  http.Post("/v1/audio/translations",
            guarded([this](const auto& q, auto& r) { transcriptions(q, r, true); }));
  http.Post("/v1/audio/speech", guarded([this](const auto& q, auto& r) { speech_endpoint(q, r); }));
  // Not OpenAI's: what the web UI offers in its voice menu.
  http.Get("/v1/audio/voices", [this](const httplib::Request&, httplib::Response& res) {
    json v = json::array();
    for (const auto& n : speech->voice_names()) v.push_back(n);
    res.set_content(dump(json{{"default", speech->default_voice()}, {"voices", v},
                              {"asr", asr ? json(asr->id()) : json(nullptr)},
                              {"image_input", static_cast<bool>(image_to_text) || image_encoder != nullptr}}),
                    "application/json");
  });
}

}  // namespace omni::server
