// Remote speech stages: /v1/audio/transcriptions and /v1/audio/speech.
#include <cstring>

#include <nlohmann/json.hpp>

#include "asr/wav.h"
#include "core/error.h"
#include "pipeline/http_client.h"
#include "pipeline/remote.h"

namespace omni::pipeline {
namespace {

using nlohmann::json;

class RemoteSpeechToText : public SpeechToText {
 public:
  explicit RemoteSpeechToText(RemoteEndpoint ep) : ep_(std::move(ep)) {}
  std::string name() const override { return "remote:" + ep_.model + "@" + ep_.url; }

  SttResult transcribe(const asr::Audio& audio, const SttOptions& o, const CancelToken& cancel,
                       const OnPartial&) override {
    SttResult result;
    result.audio_seconds = audio.seconds();
    const auto wav = asr::encode_wav(asr::downmix_to_mono(audio), asr::WavEncoding::kPcm16);
    http::Request req;
    req.method = "POST";
    req.url = ep_.endpoint("audio/transcriptions");
    req.bearer(ep_.api_key);
    req.connect_timeout_ms = ep_.connect_timeout_ms;
    req.timeout_ms = ep_.timeout_ms;
    req.cancelled = [&] { return cancel.cancelled(); };
    req.form.push_back({"file", std::string(wav.begin(), wav.end()), "audio.wav", "audio/wav"});
    req.form.push_back({"model", ep_.model.empty() ? "whisper-1" : ep_.model, "", ""});
    req.form.push_back({"response_format", "json", "", ""});
    if (!o.language.empty()) req.form.push_back({"language", o.language, "", ""});
    if (!o.prompt.empty()) req.form.push_back({"prompt", o.prompt, "", ""});
    http::Response resp;
    try {
      resp = http::perform(req);
    } catch (const http::Cancelled&) {
      result.cancelled = true;
      return result;
    }
    const json j = json::parse(resp.body, nullptr, false);
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      throw FormatError(req.url + ": response has no \"text\": " + resp.body.substr(0, 120));
    }
    std::string text = j["text"].get<std::string>();
    const auto b = text.find_first_not_of(" \t\r\n");
    const auto e = text.find_last_not_of(" \t\r\n");
    result.text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
    result.language = j.value("language", o.language);
    return result;
  }

 private:
  RemoteEndpoint ep_;
};

// Turns s16le bytes into float chunks as they arrive (a sample may straddle two blocks). With
// format "wav", the RIFF header is read first for the rate and checked for 16-bit mono PCM.
class PcmStream {
 public:
  PcmStream(bool wav, int rate, std::string url) : wav_(wav), rate_(rate), url_(std::move(url)) {}
  int rate() const { return rate_; }
  // Returns false when on_audio asked to stop.
  bool feed(std::string_view bytes, const OnAudio& on_audio) {
    pending_.append(bytes);
    if (wav_ && !header_done_ && !parse_header()) return true;
    const size_t n = pending_.size() / 2;
    if (n == 0) return true;
    samples_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      int16_t s;
      std::memcpy(&s, pending_.data() + 2 * i, 2);
      samples_[i] = static_cast<float>(s) / 32768.0f;
    }
    pending_.erase(0, 2 * n);
    total_ += n;
    return on_audio(AudioChunk{samples_, rate_, false});
  }
  size_t total() const { return total_; }

 private:
  bool parse_header() {
    // RIFF....WAVE then chunks; wait until the data chunk header has arrived.
    if (pending_.size() < 12) return false;
    if (pending_.compare(0, 4, "RIFF") != 0 || pending_.compare(8, 4, "WAVE") != 0) {
      throw FormatError(url_ + ": speech response is not a WAV file");
    }
    size_t pos = 12;
    bool have_fmt = false;
    while (pos + 8 <= pending_.size()) {
      uint32_t size;
      std::memcpy(&size, pending_.data() + pos + 4, 4);
      const std::string id = pending_.substr(pos, 4);
      if (id == "data") {
        if (!have_fmt) throw FormatError(url_ + ": WAV data chunk before fmt");
        pending_.erase(0, pos + 8);
        header_done_ = true;
        return true;
      }
      if (size > (1u << 20)) throw FormatError(url_ + ": WAV chunk '" + id + "' too large");
      if (pos + 8 + size > pending_.size()) return false;
      if (id == "fmt ") {
        if (size < 16) throw FormatError(url_ + ": WAV fmt chunk too short");
        uint16_t format, channels, bits;
        uint32_t rate;
        std::memcpy(&format, pending_.data() + pos + 8, 2);
        std::memcpy(&channels, pending_.data() + pos + 10, 2);
        std::memcpy(&rate, pending_.data() + pos + 12, 4);
        std::memcpy(&bits, pending_.data() + pos + 22, 2);
        if ((format != 1 && format != 0xfffe) || channels != 1 || bits != 16 || rate == 0 ||
            rate > 384000) {
          throw FormatError(url_ + ": WAV stream must be 16-bit mono PCM (format " +
                            std::to_string(format) + ", " + std::to_string(channels) + " ch, " +
                            std::to_string(bits) + " bits)");
        }
        rate_ = static_cast<int>(rate);
        have_fmt = true;
      }
      pos += 8 + size + (size & 1);
    }
    return false;
  }
  bool wav_;
  int rate_;
  std::string url_;
  bool header_done_ = false;
  std::string pending_;
  std::vector<float> samples_;
  size_t total_ = 0;
};

class RemoteTextToSpeech : public TextToSpeech {
 public:
  RemoteTextToSpeech(RemoteEndpoint ep, RemoteTtsOptions o) : ep_(std::move(ep)), o_(std::move(o)) {
    if (o_.format != "pcm" && o_.format != "wav") {
      throw Error("remote TTS: response format must be pcm or wav, not '" + o_.format + "'");
    }
  }
  std::string name() const override { return "remote:" + ep_.model + "@" + ep_.url; }
  int sample_rate() const override { return rate_ > 0 ? rate_ : o_.pcm_sample_rate; }

  bool synthesize(std::string_view text, const TtsOptions& options, const CancelToken& cancel,
                  const OnAudio& on_audio) override {
    json body = {{"model", ep_.model.empty() ? "tts-1" : ep_.model},
                 {"input", std::string(text)},
                 {"voice", options.voice.empty() ? o_.default_voice : options.voice},
                 {"response_format", o_.format},
                 {"speed", options.speed}};
    http::Request req;
    req.method = "POST";
    req.url = ep_.endpoint("audio/speech");
    req.json(body.dump()).bearer(ep_.api_key);
    req.connect_timeout_ms = ep_.connect_timeout_ms;
    req.timeout_ms = ep_.timeout_ms;
    bool stopped = false;
    req.cancelled = [&] { return stopped || cancel.cancelled(); };
    PcmStream pcm(o_.format == "wav", o_.pcm_sample_rate, req.url);
    try {
      http::perform(req, [&](std::string_view chunk) {
        if (!stopped && !pcm.feed(chunk, on_audio)) stopped = true;
        rate_ = pcm.rate();
      });
    } catch (const http::Cancelled&) {
      return false;
    }
    if (stopped || cancel.cancelled()) return false;
    on_audio(AudioChunk{{}, pcm.rate(), true});
    return true;
  }

 private:
  RemoteEndpoint ep_;
  RemoteTtsOptions o_;
  int rate_ = 0;
};

}  // namespace

std::unique_ptr<SpeechToText> make_remote_speech_to_text(RemoteEndpoint endpoint) {
  if (endpoint.url.empty()) throw Error("remote ASR: no url configured (asr.url)");
  return std::make_unique<RemoteSpeechToText>(std::move(endpoint));
}

std::unique_ptr<TextToSpeech> make_remote_text_to_speech(RemoteEndpoint endpoint,
                                                         RemoteTtsOptions options) {
  if (endpoint.url.empty()) throw Error("remote TTS: no url configured (tts.url)");
  return std::make_unique<RemoteTextToSpeech>(std::move(endpoint), std::move(options));
}

}  // namespace omni::pipeline
