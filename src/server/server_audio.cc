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
  bool stream = false;
  if (req.has_file("stream")) {
    const std::string v = form_field(req, "stream");
    if (v != "true" && v != "false") {
      throw ApiError(400, "Invalid value for 'stream': expected 'true' or 'false'.", "stream",
                     "invalid_type");
    }
    stream = v == "true";
  }
  if (stream && format != TranscriptFormat::kJson && format != TranscriptFormat::kText) {
    throw ApiError(400, "Streamed transcriptions support response_format 'json' or 'text' only.",
                   "response_format", "unsupported_value");
  }
  for (const char* k : {"timestamp_granularities[]", "timestamp_granularities"}) {
    if (req.has_file(k) && form_field(req, k) != "segment") {
      throw ApiError(400, "Only 'segment' timestamp granularity is supported.", k, "invalid_value");
    }
  }
  // The CLI's decoding (beam search, temperature fallback); a temperature > 0 samples at that
  // fixed temperature, as OpenAI's API does. Previous text goes in as the prompt.
  asr::TranscribeOptions opt = asr::default_decoding_options();
  opt.translate = translate;
  opt.temperature = static_cast<float>(form_number(req, "temperature", 0, 1, 0));
  if (opt.temperature > 0.0f) opt.temperature_inc = 0.0f;
  opt.initial_prompt = form_field(req, "prompt");
  std::string language = "en";
  if (!translate && req.has_file("language")) {
    language = form_field(req, "language");
    if (asr::whisper_language_index(language) < 0) {
      throw ApiError(400, "Invalid language '" + language + "'. Language parameter must be "
                          "specified in ISO-639-1 format.", "language", "invalid_language_format");
    }
  }
  if (!asr->multilingual() && language != "en") {
    throw ApiError(400, "The model '" + asr->id() + "' is English-only: it cannot transcribe '" +
                            language + "'.", "language", "unsupported_value");
  }
  opt.language = language;
  const auto deadline = Clock::now() + std::chrono::seconds(o.request_timeout_s);
  asr::Audio audio;
  try {
    audio = AsrEngine::decode(std::span(reinterpret_cast<const uint8_t*>(file.content.data()),
                                        file.content.size()),
                              file.filename.empty() ? "file" : file.filename);
  } catch (const FormatError& e) {
    throw ApiError(400, std::string("The audio file could not be decoded: ") + e.what(), "file",
                   "invalid_audio");
  }
  const double seconds = audio.seconds();
  if (!stream) {
    const auto t0 = Clock::now();
    opt.on_window = [deadline](std::span<const asr::WhisperSegment>) { return Clock::now() < deadline; };
    const asr::Transcript t = asr->transcribe(audio, opt);
    if (Clock::now() >= deadline) throw ApiError(504, "The request timed out.", "", "timeout");
    metrics.record_stage("asr", std::chrono::duration<double>(Clock::now() - t0).count());
    const auto out = format_transcript(t, format, translate ? "translate" : "transcribe",
                                       translate ? "en" : language, seconds);
    res.set_content(out.body, out.content_type);
    return;
  }
  // Streamed (OpenAI's shape): one `transcript.text.delta` event per decoded segment, as each
  // 30 s window is done, then `transcript.text.done` with the whole text (= the deltas joined,
  // trailing space trimmed). A failed write (the client left) stops after the current window.
  AsrEngine* engine = asr.get();
  Metrics* mt = &metrics;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [engine, mt, busy = in_flight.token(), audio = std::move(audio), opt, deadline,
       seconds](size_t, httplib::DataSink& sink) mutable {
        auto send = [&](const json& j) {
          const std::string line = "data: " + dump(j) + "\n\n";
          return sink.is_writable() && sink.write(line.data(), line.size());
        };
        bool client_gone = false;
        bool started = false;  // only the first delta loses its leading space
        std::string sent;
        opt.on_window = [&](std::span<const asr::WhisperSegment> added) {
          for (const auto& seg : added) {
            std::string d = seg.text;
            if (!started) d.erase(0, std::min(d.size(), d.find_first_not_of(" \t\r\n")));
            if (d.empty()) continue;
            started = true;
            sent += d;
            if (!send(json{{"type", "transcript.text.delta"}, {"delta", d}, {"logprobs", nullptr}})) {
              client_gone = true;
              return false;
            }
          }
          return Clock::now() < deadline;
        };
        const auto t0 = Clock::now();
        try {
          engine->transcribe(audio, opt);
        } catch (const std::exception& e) {
          send(json::parse(error_body(ApiError(500, e.what()))));
          sink.done();
          return true;
        }
        mt->record_stage("asr", std::chrono::duration<double>(Clock::now() - t0).count());
        if (client_gone) {
          mt->add_cancelled();
          return false;
        }
        if (Clock::now() >= deadline) {
          send(json::parse(error_body(ApiError(504, "The request timed out.", "", "timeout"))));
          sink.done();
          return true;
        }
        const size_t e = sent.find_last_not_of(" \t\r\n");
        const std::string text = e == std::string::npos ? "" : sent.substr(0, e + 1);
        if (!send(json{{"type", "transcript.text.done"}, {"text", text}, {"logprobs", nullptr},
                       {"usage", {{"type", "duration"}, {"seconds", std::ceil(seconds)}}}})) {
          return false;
        }
        sink.done();
        return true;
      });
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
      [engine, mt, busy = in_flight.token(), input, sr, wav](size_t, httplib::DataSink& sink) {
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
