// One voice turn: audio and/or text [+ image] → transcript → LLM (streamed) → clause chunker →
// TTS (streamed) → audio out, with the stages overlapped:
// - the image is read on its own thread while the audio is still arriving;
// - while audio arrives in real time, the conversation so far (and, with a streaming ASR, the
//   stable transcript prefix) is prefilled into the LLM's KV cache;
// - a TTS worker thread speaks clause 1 while the LLM generates clause 2;
// - cancelling the token (barge-in) stops generation within one token and TTS within one chunk.
// Callbacks: on_text runs on the calling thread (LLM), on_audio on the TTS worker; neither may
// call back into the stages.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/clause_chunker.h"
#include "pipeline/stages.h"
#include "pipeline/trace.h"
#include "pipeline/vad.h"

namespace omni::pipeline {

// The stages a turn uses; null ones are unavailable (an input needing one is an error).
// An image goes in as embeddings when image_encoder is set (the conversation must take them:
// TextGenerator::supports_images), otherwise as the image_reader's words (OCR or a caption).
struct Stages {
  SpeechToText* stt = nullptr;
  ImageReader* image_reader = nullptr;
  TextToSpeech* tts = nullptr;  // null: text answer only
  ImageEncoder* image_encoder = nullptr;
};

struct TurnInput {
  std::optional<asr::Audio> audio;    // the user's speech
  std::string text;                   // typed text (added after the transcript)
  std::optional<ImageInput> image;
  // Feed the audio at real-time pace (as a microphone would), so the speech ends when the last
  // sample has been fed; otherwise all audio is there at the start.
  bool realtime = false;
  // Pace of real-time feeding: 1 = real time; tests use more to finish sooner (event order is
  // what they check, not durations).
  double realtime_speed = 1.0;
};

struct TurnOptions {
  SttOptions stt;
  GenOptions gen;
  TtsOptions tts;
  ChunkerOptions chunker;
  bool normalize = true;      // make clauses speakable (numbers, markdown, URLs, ...)
  std::string language = "en";
  int feed_block_ms = 20;     // real-time feeding granularity
  // End of speech by voice activity (vad.h; its sample_rate is ignored, the turn feeds 16 kHz).
  // Real-time input: the turn ends when the VAD decides speech has ended (after its hangover),
  // without waiting for the input to end, and voice-to-voice latency counts from the VAD's last
  // speech sample. Whole-file input: trailing silence is trimmed before ASR. Unset: the input's
  // end is the end of speech.
  std::optional<VadOptions> vad;
  // Speculative turn start, for real-time input with a VAD whose pause_ms is set (> 0, below
  // the hangover), an SttStream that can peek() (or a whole-utterance recogniser) and a
  // conversation that can snapshot(): at the VAD's pause the turn transcribes what it has and
  // starts the answer (LLM, TTS, audio out) while the hangover runs. If speech resumes first, the
  // answer is cancelled at once (generation within a token, TTS within a chunk,
  // TurnCallbacks::on_audio_retracted tells the player to drop what it got), the conversation
  // goes back to its snapshot and the utterance goes on; the VAD's end of speech confirms it.
  // The price of a short pause threshold is wasted work on pauses inside a sentence, not a
  // cut-off user; voice-to-voice then counts from the pause.
  bool speculate = true;
  // A speculative answer's audio is held until this much silence has followed the speech (in
  // audio time), or the end of speech confirms it, whichever comes first. Its computing starts at
  // the pause regardless; only handing out audio waits. A guess that speech cuts off within this
  // silence is never heard; inner pauses of real sentences are shorter (refdata: <= 180 ms).
  // 0: no hold (audio as soon as it is synthesised).
  int speculative_hold_ms = 250;
};

struct TurnCallbacks {
  std::function<void(const std::string&)> on_transcript;
  OnText on_text;                                  // answer pieces; false cancels the turn
  std::function<void(const std::string&)> on_clause;  // each clause as it goes to TTS
  std::function<void(const AudioChunk&)> on_audio;  // response audio, in order
  // A speculative answer was cancelled because the user went on speaking: stop playing and drop
  // all audio on_audio gave so far (the confirmed answer's audio follows later from the start).
  // Its text is never shown: on_text / on_clause / on_transcript of a speculative answer are
  // held back until the end of speech confirms it. Called on the turn's thread.
  std::function<void()> on_audio_retracted;
};

struct TurnResult {
  std::string transcript;
  std::string image_text;     // words path: what the reader found
  int image_tokens = 0;       // embeddings path: rows spliced into the prompt
  std::string prompt;  // the user message sent to the LLM (the text; an embedded image is not in it)
  std::string answer;
  std::vector<std::string> clauses;
  std::string finish_reason;  // the LLM's, or "cancelled"
  bool cancelled = false;
  int sample_rate = 0;
  std::vector<float> audio;   // all response audio (mono, sample_rate)
};

// Runs one turn on `conversation` (which keeps the turn for the next one). Throws omni::Error for
// a missing stage or a stage failure; cancellation returns normally with cancelled = true.
TurnResult run_turn(const Stages& stages, TextGenerator& conversation, const TurnInput& input,
                    const TurnOptions& options, const CancelToken& cancel, Trace& trace,
                    const TurnCallbacks& callbacks = {});

}  // namespace omni::pipeline
