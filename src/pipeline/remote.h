// Remote stage backends over any OpenAI-compatible HTTP endpoint (vLLM, llama.cpp's server,
// `omni serve`, OpenAI itself):
//   RemoteLanguageModel  → POST {url}/v1/chat/completions, stream:true (SSE); the whole
//                          conversation is sent each turn; images as image_url data URLs
//   RemoteSpeechToText   → POST {url}/v1/audio/transcriptions (multipart, 16-bit WAV body)
//   RemoteTextToSpeech   → POST {url}/v1/audio/speech, response_format pcm (s16le) or wav,
//                          converted to float chunks as the bytes arrive
// `url` is the server's base ("http://host:8080"; a trailing "/v1" is accepted too).
// Cancellation stops the HTTP transfer; HTTP failures are omni::Error with the server's message.
#pragma once

#include <memory>
#include <string>

#include "pipeline/config.h"
#include "pipeline/stages.h"

namespace omni::pipeline {

struct RemoteEndpoint {
  std::string url = "";
  std::string model = "";    // sent as "model"
  std::string api_key = "";  // bearer key; empty: none
  long connect_timeout_ms = 10000;
  long timeout_ms = 0;  // whole request; 0: none (streams stop on stalls instead)

  // "{base}/v1/{path}" whether or not `url` already ends in /v1.
  std::string endpoint(const std::string& path) const;
};

// The endpoint a config section ("asr", "llm" or "tts") names: {section}.url,
// {section}.remote_model and the key from the environment variable {section}.api_key_env.
RemoteEndpoint remote_endpoint_from_config(const Config& config, const std::string& section);

std::unique_ptr<LanguageModel> make_remote_language_model(RemoteEndpoint endpoint);
std::unique_ptr<SpeechToText> make_remote_speech_to_text(RemoteEndpoint endpoint);

struct RemoteTtsOptions {
  std::string format = "pcm";  // "pcm" (s16le mono at pcm_sample_rate) or "wav"
  int pcm_sample_rate = 24000;  // OpenAI's pcm output rate
  std::string default_voice = "alloy";
};
std::unique_ptr<TextToSpeech> make_remote_text_to_speech(RemoteEndpoint endpoint,
                                                         RemoteTtsOptions options = {});

// RFC 4648 base64 (for data URLs).
std::string base64_encode(std::string_view bytes);

}  // namespace omni::pipeline
