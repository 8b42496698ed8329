// Chat beyond text: `input_audio` parts (transcribed by the ASR model), `image_url` parts (as
// embeddings spliced into the prompt with --mmproj, or the words path: image → OCR text), and
// spoken answers (`modalities: ["text", "audio"]`).
#include "asr/audio_io.h"
#include "pipeline/local_caption.h"
#include "server/base64.h"
#include "server/image_fetch.h"
#include "server/server_impl.h"

namespace omni::server {

using nlohmann::json;

namespace {

const json& require_object(const json& part, const char* key, const std::string& where) {
  auto it = part.find(key);
  if (it == part.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: '" + where + "." + key + "'.", where + "." + key,
                   "missing_required_parameter");
  }
  if (!it->is_object()) {
    throw ApiError(400, "Invalid type for '" + where + "." + key + "': expected an object.",
                   where + "." + key, "invalid_type");
  }
  return *it;
}

std::string require_field(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: '" + where + "." + key + "'.", where + "." + key,
                   "missing_required_parameter");
  }
  if (!it->is_string()) {
    throw ApiError(400, "Invalid type for '" + where + "." + key + "': expected a string.",
                   where + "." + key, "invalid_type");
  }
  return it->get<std::string>();
}

}  // namespace

Server::Impl::RequestImages Server::Impl::request_images(const json& body) const {
  RequestImages r;
  r.mode = image_mode;
  auto it = body.find("image_mode");
  if (it == body.end() || it->is_null()) return r;
  if (!it->is_string()) {
    throw ApiError(400, "Invalid type for 'image_mode': expected a string.", "image_mode", "invalid_type");
  }
  const std::string m = it->get<std::string>();
  if (m == "ocr") {
    r.mode = pipeline::ImageMode::kOcr;
  } else if (m == "auto") {
    r.mode = image_encoder ? pipeline::ImageMode::kEmbed : pipeline::ImageMode::kOcr;
  } else if (m == "embed") {
    if (!image_encoder) {
      throw ApiError(400, "'image_mode' 'embed' needs the server started with an --mmproj that fits "
                          "the model; use 'ocr' or 'auto'.", "image_mode", "invalid_value");
    }
    r.mode = pipeline::ImageMode::kEmbed;
  } else if (m == "caption") {
    if (!image_encoder) {
      throw ApiError(400, "'image_mode' 'caption' needs the server started with an --mmproj that "
                          "fits the model (the model captions the image); use 'ocr' or 'auto'.",
                     "image_mode", "invalid_value");
    }
    r.mode = pipeline::ImageMode::kCaption;
  } else {
    throw ApiError(400, "Invalid value for 'image_mode': '" + m +
                            "'. Supported values are: 'auto', 'embed', 'caption' and 'ocr'.",
                   "image_mode", "invalid_value");
  }
  return r;
}

llm::Prompt Server::Impl::media_chat_prompt(const llm::GuardedChat& chat,
                                            const RequestImages& ri) const {
  // As mtmd: BOS once in front, every text piece tokenized on its own (template text parsed for
  // specials, message text literal), each marker replaced by its image's rows and layout tokens.
  const llm::Vocab& v = model->vocab();
  const std::string& text = chat.text;
  llm::Prompt p;
  const bool bos_in_text = v.bos() != llm::kNoToken && text.starts_with(v.token_text(v.bos()));
  if (v.add_bos() && v.bos() != llm::kNoToken && !bos_in_text) {
    const llm::TokenId bos = v.bos();
    p.add_tokens(std::span<const llm::TokenId>(&bos, 1));
  }
  size_t start = 0, k = 0;
  for (;;) {
    const size_t at = text.find(llm::kMediaMarker, start);
    const size_t end = at == std::string::npos ? text.size() : at;
    if (end > start) {
      std::vector<llm::TextSpan> lit;
      for (const auto& sp : chat.literal) {
        const size_t b = std::max(sp.begin, start), e = std::min(sp.end, end);
        if (b < e) lit.push_back({b - start, e - start});
      }
      p.add_tokens(v.tokenize(std::string_view(text).substr(start, end - start), false, true, lit));
    }
    if (at == std::string::npos) break;
    if (k >= ri.images.size()) {
      throw ApiError(400, "Message text may not contain '" + std::string(llm::kMediaMarker) +
                              "' when images go in as embeddings.", "messages", "invalid_value");
    }
    llm::MediaPromptOptions mo;
    mo.layout = ri.layout;
    mo.add_special = false;
    mo.parse_special = false;
    try {
      p.append(llm::build_media_prompt(v, llm::kMediaMarker, std::span(&ri.images[k], 1), mo));
    } catch (const Error& e) {
      throw ApiError(400, std::string("The image cannot be placed in this model's prompt: ") + e.what(),
                     "messages", "invalid_value");
    }
    ++k;
    start = at + llm::kMediaMarker.size();
  }
  if (k != ri.images.size()) {
    throw ApiError(400, "The chat template dropped an image part.", "messages", "invalid_messages");
  }
  if (v.add_eos() && v.eos() != llm::kNoToken) {
    const llm::TokenId eos = v.eos();
    p.add_tokens(std::span<const llm::TokenId>(&eos, 1));
  }
  return p;
}

std::string Server::Impl::part_to_text(const json& part, const std::string& type,
                                       const std::string& where, RequestImages& images) {
  if (type == "input_audio") {
    const json& ia = require_object(part, "input_audio", where);
    const std::string pw = where + ".input_audio";
    const std::string data = require_field(ia, "data", pw);
    const std::string format = require_field(ia, "format", pw);
    if (format != "wav" && format != "mp3" && format != "flac" && format != "ogg" && format != "opus") {
      throw ApiError(400, "Invalid value for '" + pw + ".format': '" + format +
                              "'. Supported values are: 'wav', 'mp3', 'flac', 'ogg' and 'opus'.",
                     pw + ".format", "invalid_value");
    }
    AsrEngine& engine = require_asr("Audio input ('input_audio')");
    std::vector<uint8_t> bytes;
    try {
      bytes = base64_decode(data, pw + ".data");
    } catch (const FormatError& e) {
      throw ApiError(400, e.what(), pw + ".data", "invalid_base64");
    }
    const auto t0 = Clock::now();
    asr::Transcript t;
    try {
      t = engine.transcribe(bytes, pw + ".data", asr::default_decoding_options());
    } catch (const FormatError& e) {
      throw ApiError(400, std::string("The audio could not be decoded: ") + e.what(), pw + ".data",
                     "invalid_audio");
    }
    metrics.record_stage("asr", std::chrono::duration<double>(Clock::now() - t0).count());
    std::string text = t.text;
    const size_t b = text.find_first_not_of(" \t\n");
    return b == std::string::npos ? "" : text.substr(b);
  }
  // image_url: {"url": "data:image/png;base64,..."} (a bare string is accepted too).
  auto it = part.find("image_url");
  if (it == part.end() || it->is_null()) {
    throw ApiError(400, "Missing required parameter: '" + where + ".image_url'.", where + ".image_url",
                   "missing_required_parameter");
  }
  const std::string pw = where + ".image_url";
  const json& img = part.at("image_url");
  std::string url;
  if (img.is_string()) {
    url = img.get<std::string>();
  } else {
    url = require_field(img, "url", pw);
  }
  DataUrl d;
  if (is_http_url(url)) {
    if (!o.allow_image_urls) {
      throw ApiError(400, "Image URLs are not fetched by this server (start it with "
                          "--allow-image-urls); send the image inline as a base64 data: URL.",
                     pw + ".url", "invalid_image_url");
    }
    const auto t0 = Clock::now();
    d = fetch_image_url(url, pw + ".url",
                        {o.image_url_max_bytes, 1000L * o.image_url_timeout_s});
    metrics.record_stage("image_fetch", std::chrono::duration<double>(Clock::now() - t0).count());
  } else if (!url.starts_with("data:")) {
    throw ApiError(400, "Only data: and http(s) URLs are supported for images (got '" +
                            url.substr(0, 40) + "').", pw + ".url", "invalid_image_url");
  } else {
    try {
      d = parse_data_url(url, pw + ".url");
    } catch (const FormatError& e) {
      throw ApiError(400, e.what(), pw + ".url", "invalid_image_url");
    }
  }
  if (images.mode == pipeline::ImageMode::kEmbed) {
    // The embeddings path: the marker stands in the message; media_chat_prompt splices the rows.
    const auto t0 = Clock::now();
    pipeline::ImageInput in;
    in.bytes = std::move(d.bytes);
    in.mime = d.mime;
    in.source = pw + ".url";
    pipeline::ImageEmbeddings e;
    try {
      e = image_encoder->encode(in, pipeline::CancelToken());
    } catch (const FormatError& ex) {
      throw ApiError(400, std::string("The image could not be read: ") + ex.what(), pw + ".url",
                     "invalid_image");
    }
    metrics.record_stage("vision", std::chrono::duration<double>(Clock::now() - t0).count());
    llm::ImageEmbeddings ie;
    ie.embd = std::move(e.data);
    ie.n_embd = static_cast<uint32_t>(e.n_embd);
    ie.grid_cols = static_cast<uint32_t>(e.grid_cols);
    ie.grid_rows = static_cast<uint32_t>(e.grid_rows);
    ie.rows_per_tile = static_cast<uint32_t>(e.tokens_per_tile);
    images.layout = e.projector == "idefics3" ? llm::ImageLayout::kIdefics3 : llm::ImageLayout::kPlain;
    images.images.push_back(std::move(ie));
    return std::string(llm::kMediaMarker);
  }
  if (images.mode == pipeline::ImageMode::kCaption) {
    // The words path through the loaded VLM itself: a separate greedy conversation captions the
    // image, and the caption goes into the message as text (as the CLI's turn does).
    const auto t0 = Clock::now();
    pipeline::ImageInput in;
    in.bytes = std::move(d.bytes);
    in.mime = d.mime;
    in.source = pw + ".url";
    pipeline::ImageText t;
    try {
      pipeline::CaptionImageReader reader(model, id, *image_encoder,
                                          {.n_ctx = 0, .pool = pool.get()}, o.caption_max_tokens);
      t = reader.describe(in, pipeline::CancelToken());
    } catch (const FormatError& ex) {
      throw ApiError(400, std::string("The image could not be read: ") + ex.what(), pw + ".url",
                     "invalid_image");
    }
    metrics.record_stage("caption", std::chrono::duration<double>(Clock::now() - t0).count());
    return "[Image description: " + (t.text.empty() ? std::string("(none)") : t.text) + "]";
  }
  if (!image_to_text) {
    throw ApiError(400, "Image input needs an image-to-text stage (OCR words path: Tesseract with "
                        "the --ocr-languages data) or an --mmproj; send text or audio instead.",
                   pw, "image_input_unsupported");
  }
  const auto t0 = Clock::now();
  std::string words;
  try {
    words = image_to_text(d.bytes, d.mime);
  } catch (const FormatError& e) {
    throw ApiError(400, std::string("The image could not be read: ") + e.what(), pw + ".url",
                   "invalid_image");
  }
  metrics.record_stage("ocr", std::chrono::duration<double>(Clock::now() - t0).count());
  return words.empty() ? "" : "[Image text: " + words + "]";
}

Server::Impl::AudioOut Server::Impl::parse_audio_output(const json& body) const {
  AudioOut out;
  auto mod = body.find("modalities");
  if (mod != body.end() && !mod->is_null()) {
    if (!mod->is_array()) {
      throw ApiError(400, "Invalid type for 'modalities': expected an array of strings.", "modalities",
                     "invalid_type");
    }
    for (const auto& m : *mod) {
      if (!m.is_string() || (m != "text" && m != "audio")) {
        throw ApiError(400, "Invalid value in 'modalities': supported values are 'text' and 'audio'.",
                       "modalities", "invalid_value");
      }
      if (m == "audio") out.enabled = true;
    }
  }
  auto a = body.find("audio");
  if (!out.enabled) {
    if (a != body.end() && !a->is_null()) {
      throw ApiError(400, "'audio' is only allowed with modalities [\"text\", \"audio\"].", "audio",
                     "invalid_value");
    }
    return out;
  }
  if (a == body.end() || a->is_null()) {
    throw ApiError(400, "Missing required parameter: 'audio' (with modalities including 'audio').",
                   "audio", "missing_required_parameter");
  }
  if (!a->is_object()) throw ApiError(400, "Invalid type for 'audio': expected an object.", "audio", "invalid_type");
  out.speech.voice = require_field(*a, "voice", "audio");
  speech->check_voice(out.speech.voice);
  out.format = require_field(*a, "format", "audio");
  if (out.format != "wav" && out.format != "pcm16" && out.format != "flac" && out.format != "mp3" &&
      out.format != "opus") {
    throw ApiError(400, "Invalid value for 'audio.format': '" + out.format +
                            "'. Supported values are: 'wav', 'pcm16', 'flac', 'mp3' and 'opus'.",
                   "audio.format", "invalid_value");
  }
  return out;
}

EncodedAudio Server::Impl::speak_all(const std::string& text, const SpeechRequest& req,
                                     const std::string& format) {
  std::vector<int16_t> pcm;
  const auto t0 = Clock::now();
  speech->synthesize(text, req, [&](std::span<const int16_t> s) {
    pcm.insert(pcm.end(), s.begin(), s.end());
    return true;
  });
  metrics.record_stage("tts", std::chrono::duration<double>(Clock::now() - t0).count());
  EncodedAudio out;
  if (format == "pcm16" || format == "pcm") {
    out.bytes.assign(reinterpret_cast<const char*>(pcm.data()), pcm.size() * 2);
    out.content_type = "audio/pcm";
    return out;
  }
  if (format == "wav") {
    out.bytes = wav_header_s16(kSpeechSampleRate, static_cast<uint32_t>(pcm.size() * 2));
    out.bytes.append(reinterpret_cast<const char*>(pcm.data()), pcm.size() * 2);
    out.content_type = "audio/wav";
    return out;
  }
  asr::Audio a;
  a.sample_rate = kSpeechSampleRate;
  a.samples.reserve(pcm.size());
  for (const int16_t v : pcm) a.samples.push_back(v / 32768.0f);
  asr::SndFormat f = asr::SndFormat::kFlac16;
  out.content_type = "audio/flac";
  if (format == "mp3") {
    f = asr::SndFormat::kMp3;
    out.content_type = "audio/mpeg";
  } else if (format == "opus") {
    f = asr::SndFormat::kOggOpus;
    out.content_type = "audio/ogg";
  }
  const auto bytes = asr::sndfile_encode_memory(a, f);
  out.bytes.assign(bytes.begin(), bytes.end());
  return out;
}

}  // namespace omni::server
