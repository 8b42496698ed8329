// The five stages of a voice turn (DESIGN §1–2), as small streaming, cancellable interfaces.
// Each has local implementations (our engines, espeak-ng, pocketsphinx, tesseract) and remote ones
// (an OpenAI-compatible endpoint); turn orchestration only sees these interfaces.
//
// Threading contract (all stages):
// - One stage object serves one call at a time: callers never call two methods of the same
//   object concurrently (a TextGenerator is one conversation; a server keeps one per session).
//   Different stage objects may run at the same time on different threads; implementations that
//   share a non-thread-safe library (espeak-ng) serialise internally.
// - Callbacks (OnPartial, OnText, OnAudio) run synchronously on the thread that called the stage
//   method, in order, and must not call back into the same stage object. Spans they receive are
//   valid only during the call.
// - A CancelToken may be cancelled from any thread. A stage checks it at least once per unit of
//   work it streams (one LLM token, one audio chunk, one decoder window) and then returns
//   promptly with what it has, marked cancelled; it does not throw for cancellation. A callback
//   returning false has the same effect.
// - Errors (bad input, missing model, HTTP failure) are thrown as omni::Error / FormatError.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asr/audio.h"
#include "pipeline/cancel.h"

namespace omni::pipeline {

// ---------------------------------------------------------------------------------------------
// Speech to text

struct SttOptions {
  std::string language = "en";  // ISO code; "" = let the model detect it (where it can)
  bool translate = false;       // translate to English instead of transcribing
  std::string prompt;           // optional context / vocabulary hint
  // Cap on decoded tokens per window where the engine has one (Whisper); 0 = the model's limit.
  // Benchmarks with random-weight models set it to simulate a trained model's transcript length.
  int max_decode_tokens = 0;
};

// A hypothesis while audio is still arriving. `text` is the whole hypothesis so far; its first
// `stable_bytes` bytes will not change any more (they may be prefilled into the LLM).
struct PartialTranscript {
  std::string text;
  size_t stable_bytes = 0;
  double audio_seconds = 0;  // input covered by this hypothesis
};
using OnPartial = std::function<void(const PartialTranscript&)>;

struct SttResult {
  std::string text;          // final transcript, trimmed
  std::string language;      // the language used or detected ("" when unknown)
  double audio_seconds = 0;  // input length
  bool cancelled = false;
};

// Incremental recognition of one utterance: feed() audio as it arrives (16 kHz mono floats,
// any block size), finish() at end of speech. Partials are reported from feed()/finish() on the
// caller's thread. Cancellation: feed()/finish() check the token given to start_stream().
class SttStream {
 public:
  virtual ~SttStream() = default;
  virtual void feed(std::span<const float> samples_16k) = 0;
  virtual SttResult finish() = 0;
  // Speculative end of turn: the transcript of everything fed so far, as close to what finish()
  // would return now as the backend can make it, without ending the stream (feeding may go on).
  // Blocking; never called concurrently with feed()/finish(). nullopt: not supported.
  virtual std::optional<SttResult> peek() { return std::nullopt; }
};

class SpeechToText {
 public:
  virtual ~SpeechToText() = default;
  virtual std::string name() const = 0;  // "whisper:ggml-base.en.bin", "pocketsphinx:en-us", ...

  // Whole-utterance recognition of audio at any rate / channel count. Implementations may report
  // partials (e.g. per decoded window); they need not.
  virtual SttResult transcribe(const asr::Audio& audio, const SttOptions& options,
                               const CancelToken& cancel, const OnPartial& on_partial = {}) = 0;

  // Streaming recognition, or nullptr when the backend only does whole utterances (the caller
  // then buffers and calls transcribe()).
  virtual std::unique_ptr<SttStream> start_stream(const SttOptions& /*options*/,
                                                  const CancelToken& /*cancel*/,
                                                  const OnPartial& /*on_partial*/) {
    return nullptr;
  }
};

// ---------------------------------------------------------------------------------------------
// Images. Stages take the encoded file (PNG/JPEG/...) so a remote backend can send it as is and a
// local one decodes it with the vision engine's own loader.

struct ImageInput {
  std::vector<uint8_t> bytes;  // the encoded file
  std::string mime;            // "image/png", ... ("" = sniff from bytes)
  std::string source;          // file name or URL, for messages

  // Reads a file; throws omni::Error naming it when it cannot be read or is empty.
  static ImageInput from_file(const std::string& path);
};

// Words path: text about the image that any text LLM can read.
struct ImageText {
  std::string text;  // OCR words and/or a caption
  std::string kind;  // "ocr", "caption", ...
  bool cancelled = false;
};

class ImageReader {
 public:
  virtual ~ImageReader() = default;
  virtual std::string name() const = 0;
  virtual ImageText describe(const ImageInput& image, const CancelToken& cancel) = 0;
};

// Embeddings path: vectors in the LLM's embedding space (after the projector), one row per image
// token, to be spliced where the image marker stands.
struct ImageEmbeddings {
  int n_tokens = 0;
  int n_embd = 0;
  std::vector<float> data;  // n_tokens * n_embd, row-major
  bool cancelled = false;
  // How the LLM expects the rows laid out around its image tokens: "mlp" (LLaVA: the rows alone)
  // or "idefics3" (SmolVLM: grid_cols x grid_rows tiles, row-major, then the global image, each
  // tokens_per_tile rows, wrapped in the model's tile tokens).
  std::string projector;
  int grid_cols = 0, grid_rows = 0, tokens_per_tile = 0;
};

class ImageEncoder {
 public:
  virtual ~ImageEncoder() = default;
  virtual std::string name() const = 0;
  virtual ImageEmbeddings encode(const ImageInput& image, const CancelToken& cancel) = 0;
};

// ---------------------------------------------------------------------------------------------
// Text generation: a conversation whose state (and KV cache, for local engines) lives between turns.

// One part of a user message: text, or an image (words already folded in as text by the caller,
// or an image for generators that take embeddings / remote multimodal models).
struct MessagePart {
  std::string text;                           // when image is null
  std::shared_ptr<const ImageInput> image;    // encoded image
  std::shared_ptr<const ImageEmbeddings> embeddings;  // optional precomputed embeddings for it
};

struct UserMessage {
  std::vector<MessagePart> parts;

  static UserMessage text_only(std::string text) {
    UserMessage m;
    m.parts.push_back(MessagePart{std::move(text), nullptr, nullptr});
    return m;
  }
  // All text parts joined with single newlines (images left out).
  std::string joined_text() const;
  bool has_images() const;
};

struct GenOptions {
  int max_tokens = 256;
  float temperature = 0.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;             // 0 = off
  uint64_t seed = 0;
  std::vector<std::string> stop;
};

struct GenStats {
  int prompt_tokens = 0;   // prompt tokens evaluated for this reply
  int reused_tokens = 0;   // prompt tokens kept from the KV cache (earlier turns, prefill)
  int generated_tokens = 0;
  double prompt_ms = 0;
  double generate_ms = 0;
};

struct Reply {
  std::string text;
  std::string finish_reason;  // "stop", "length", "cancelled"
  GenStats stats;
};

// Each piece of valid UTF-8 text as it is generated; return false to stop.
using OnText = std::function<bool(std::string_view piece)>;

// What TextGenerator::snapshot() saves: the conversation's messages (not the KV cache, which
// keeps its reusable prefix on its own).
class ConversationSnapshot {
 public:
  virtual ~ConversationSnapshot() = default;
};

class TextGenerator {
 public:
  virtual ~TextGenerator() = default;
  virtual std::string name() const = 0;

  // Appends a user message to the conversation (nothing is evaluated yet). Throws omni::Error if
  // the message has images and the generator cannot take them (supports_images() false).
  virtual void add_user(const UserMessage& message) = 0;

  // Generates the assistant's reply to the conversation so far, streaming it through on_text,
  // and appends it (as far as it got, when cancelled) to the conversation.
  virtual Reply generate(const GenOptions& options, const CancelToken& cancel,
                         const OnText& on_text = {}) = 0;

  // Optional latency work while the user is still speaking: evaluate the conversation plus a user
  // message that starts with `pending_user_text` into the KV cache, so generate() after
  // add_user() with the full text only evaluates the rest. Returns the number of tokens
  // evaluated (0 when the backend does not prefill). Does not change the conversation.
  virtual int prefill(std::string_view /*pending_user_text*/, const CancelToken& /*cancel*/) {
    return 0;
  }

  virtual bool supports_images() const { return false; }

  // Speculative answers: the conversation as it is now, and going back to it (dropping the user
  // message and reply added since). nullptr: not supported (turns then never speculate).
  virtual std::unique_ptr<ConversationSnapshot> snapshot() const { return nullptr; }
  virtual void restore(const ConversationSnapshot& /*snapshot*/) {}

  // Forgets the conversation (the system prompt stays).
  virtual void reset() = 0;
};

// Makes conversations on one model (local weights loaded once, or a remote endpoint).
class LanguageModel {
 public:
  virtual ~LanguageModel() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<TextGenerator> start_conversation(const std::string& system_prompt) = 0;
};

// ---------------------------------------------------------------------------------------------
// Text to speech

struct TtsOptions {
  std::string voice;     // backend-specific ("en-us", "ko", a Piper speaker id, ...); "" = default
  float speed = 1.0f;    // 1 = the voice's normal rate
  int pitch = 50;        // 0..100 where the backend supports it
  int volume = 100;      // 0..200 where the backend supports it
};

// One block of synthesised audio: mono float samples in [-1, 1].
struct AudioChunk {
  std::span<const float> samples;
  int sample_rate = 0;
  bool end_of_text = false;  // the last chunk of this synthesize() call (may be empty)
};
// Return false to stop synthesis.
using OnAudio = std::function<bool(const AudioChunk& chunk)>;

class TextToSpeech {
 public:
  virtual ~TextToSpeech() = default;
  virtual std::string name() const = 0;
  virtual int sample_rate() const = 0;
  // Synthesises `text` (already speakable: see text_normalize.h), streaming chunks as they are
  // made. Returns false if stopped early (cancelled or on_audio returned false).
  virtual bool synthesize(std::string_view text, const TtsOptions& options,
                          const CancelToken& cancel, const OnAudio& on_audio) = 0;
};

}  // namespace omni::pipeline
