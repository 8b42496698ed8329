#include "pipeline/turn.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>

#include "asr/resample.h"
#include "core/error.h"
#include "pipeline/text_normalize.h"
#include "pipeline/text_util.h"
#include "pipeline/vad.h"

namespace omni::pipeline {
namespace {

// Clauses from the LLM thread to the TTS worker.
class ClauseQueue {
 public:
  void push(std::string s) {
    {
      std::lock_guard l(mu_);
      q_.push_back(std::move(s));
    }
    cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard l(mu_);
      closed_ = true;
    }
    cv_.notify_one();
  }
  // Next clause, or nullopt once closed and drained or cancelled.
  std::optional<std::string> pop(const CancelToken& cancel) {
    std::unique_lock l(mu_);
    while (q_.empty() && !closed_) {
      if (cancel.cancelled()) return std::nullopt;
      cv_.wait_for(l, std::chrono::milliseconds(5));
    }
    if (q_.empty() || cancel.cancelled()) return std::nullopt;
    std::string s = std::move(q_.front());
    q_.pop_front();
    return s;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  bool closed_ = false;
};

// Waits until `t`, waking early on cancellation.
void sleep_until(Clock::time_point t, const CancelToken& cancel) {
  while (Clock::now() < t && !cancel.cancelled()) {
    std::this_thread::sleep_until(std::min(t, Clock::now() + std::chrono::milliseconds(5)));
  }
}

double ms_since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t - t0).count();
}

VadOptions vad_16k(VadOptions o) {
  o.sample_rate = 16000;
  return o;
}

// Whole-file input: cut what follows the last end of speech (plus a short margin, so the last
// word's decay stays), so ASR does not decode silence.
asr::Audio trim_trailing_silence(const asr::Audio& a, const VadOptions& vo, Trace& trace) {
  asr::Audio s = asr::to_whisper_input(a);
  Vad vad(vad_16k(vo));
  double end_s = -1;
  for (const auto& e : vad.feed(s.samples)) {
    if (e.kind == VadEvent::kSpeechEnd) end_s = e.t_s;
  }
  for (const auto& e : vad.finish()) end_s = e.t_s;
  if (end_s < 0) return s;  // no speech found: leave it to ASR
  constexpr double kMarginS = 0.2;
  const size_t keep = std::min(s.samples.size(), static_cast<size_t>((end_s + kMarginS) * 16000));
  if (keep < s.samples.size()) {
    trace.mark("vad", "trim", std::to_string(s.seconds()) + " s -> " +
                                  std::to_string(static_cast<double>(keep) / 16000.0) + " s");
    s.samples.resize(keep);
  }
  return s;
}


// Feeds `a` at real-time pace (times `speed`) to the stream (or buffers it for whole-utterance
// ASR), prefilling the LLM with what is already known, until the input ends or the VAD decides
// the speech has ended. Returns the transcript.
std::string feed_realtime(const Stages& stages, TextGenerator& conv, const asr::Audio& a,
                          double speed, const TurnOptions& opt, const CancelToken& cancel,
                          Trace& trace) {
  TraceSummary& sum = trace.summary;
  if (!(speed > 0)) throw Error("turn: realtime_speed must be > 0");
  const std::vector<float> s16k = asr::to_whisper_input(a).samples;
  const auto t_start = Clock::now();
  // Stream position (seconds of audio) -> wall clock.
  auto wall = [&](double audio_s) {
    return t_start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(audio_s / speed));
  };
  auto prefill = [&](std::string_view text) {
    const int n = conv.prefill(text, cancel);
    sum.prefill_tokens += n;
    if (n > 0) trace.mark("llm", "prefill", std::to_string(n) + " tokens");
  };
  std::string stable, prefilled;
  bool stable_changed = false;
  std::unique_ptr<SttStream> stream =
      stages.stt->start_stream(opt.stt, cancel, [&](const PartialTranscript& p) {
        const std::string s = p.text.substr(0, std::min(p.stable_bytes, p.text.size()));
        if (s != stable) {
          stable = s;
          stable_changed = true;
          trace.mark("asr", "stable", s);
        }
      });
  // Whole-utterance ASR, or a stream with nothing stable yet: the conversation so far and the
  // user-turn opener go into the KV cache first.
  prefill("");
  std::optional<Vad> vad;
  if (opt.vad) vad.emplace(vad_16k(*opt.vad));
  double speech_end_s = -1;  // the VAD's last speech sample, in stream seconds
  const size_t block = static_cast<size_t>(16 * std::max(1, opt.feed_block_ms));
  size_t fed = 0;
  while (fed < s16k.size() && !cancel.cancelled() && speech_end_s < 0) {
    sleep_until(wall(static_cast<double>(fed) / 16000.0), cancel);
    const auto chunk = std::span<const float>(s16k).subspan(fed, std::min(block, s16k.size() - fed));
    if (stream) stream->feed(chunk);
    fed += chunk.size();
    if (vad) {
      for (const auto& e : vad->feed(chunk)) {
        if (e.kind == VadEvent::kSpeechStart) {
          trace.mark("vad", "speech_start", std::to_string(e.t_s) + " s");
        } else {
          speech_end_s = e.t_s;
          trace.mark("vad", "speech_end", std::to_string(e.t_s) + " s, decided at " +
                                              std::to_string(e.detected_s) + " s");
        }
      }
    }
    if (stable_changed && stable != prefilled && speech_end_s < 0) {
      stable_changed = false;
      prefilled = stable;
      prefill(trim(stable));
    }
  }
  if (speech_end_s < 0) {
    sleep_until(wall(static_cast<double>(fed) / 16000.0), cancel);
    if (vad) {
      for (const auto& e : vad->finish()) speech_end_s = e.t_s;
    }
  }
  const double end_mark = trace.mark("input", "end", speech_end_s >= 0 ? "vad" : "input ended");
  sum.speech_end_ms =
      speech_end_s >= 0 ? ms_since(trace.start(), wall(speech_end_s)) : end_mark;
  sum.speech_audio_s = static_cast<double>(fed) / 16000.0;
  trace.mark("asr", "start");
  const auto t_asr = Clock::now();
  SttResult r;
  if (stream) {
    r = stream->finish();
  } else {
    asr::Audio heard;
    heard.sample_rate = 16000;
    heard.channels = 1;
    heard.samples.assign(s16k.begin(), s16k.begin() + static_cast<std::ptrdiff_t>(fed));
    r = stages.stt->transcribe(heard, opt.stt, cancel);
  }
  sum.asr_ms = ms_since(t_asr, Clock::now());
  return r.text;
}

}  // namespace

TurnResult run_turn(const Stages& stages, TextGenerator& conv, const TurnInput& input,
                    const TurnOptions& opt, const CancelToken& cancel, Trace& trace,
                    const TurnCallbacks& cb) {
  TurnResult res;
  TraceSummary& sum = trace.summary;
  if (!input.audio && input.text.empty() && !input.image) throw Error("turn: no input");
  if (input.audio && !stages.stt) throw Error("turn: audio input needs a speech-to-text stage");
  if (input.image && !stages.image_reader) throw Error("turn: image input needs an image reader");
  trace.mark("turn", "start");

  // The image is read while the audio arrives.
  std::future<ImageText> image_future;
  if (input.image) {
    image_future = std::async(std::launch::async, [&] {
      trace.mark("image", "start");
      ImageText t = stages.image_reader->describe(*input.image, cancel);
      trace.mark("image", "end", std::to_string(t.text.size()) + " bytes");
      return t;
    });
  }

  // Speech: real-time feeding (with prefill of what is known) or all at once.
  if (input.audio) {
    const asr::Audio& a = *input.audio;
    sum.input_audio_s = a.seconds();
    trace.mark("input", "start", std::to_string(a.seconds()) + " s");
    if (input.realtime) {
      res.transcript = feed_realtime(stages, conv, a, input.realtime_speed, opt, cancel, trace);
    } else {
      asr::Audio speech = a;
      if (opt.vad) speech = trim_trailing_silence(a, *opt.vad, trace);
      sum.speech_audio_s = speech.seconds();
      sum.speech_end_ms = trace.mark("input", "end");
      trace.mark("asr", "start");
      const auto t_asr = Clock::now();
      SttResult r = stages.stt->transcribe(speech, opt.stt, cancel);
      sum.asr_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_asr).count();
      res.transcript = r.text;
    }
    trace.mark("asr", "end", res.transcript);
    if (cb.on_transcript) cb.on_transcript(res.transcript);
  } else {
    sum.speech_end_ms = trace.mark("input", "end");
  }

  if (image_future.valid()) {
    const auto t_img = Clock::now();
    ImageText t = image_future.get();
    sum.image_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_img).count();
    res.image_text = trim(t.text);
  }
  if (cancel.cancelled()) {
    res.cancelled = true;
    res.finish_reason = "cancelled";
    trace.mark("turn", "cancelled");
    return res;
  }

  // The user message: what was said, what was typed, what the image shows.
  std::string msg = res.transcript;
  if (!input.text.empty()) msg += (msg.empty() ? "" : "\n") + input.text;
  if (input.image) {
    const std::string words = res.image_text.empty() ? "(no text found)" : res.image_text;
    msg += (msg.empty() ? "" : "\n") + std::string("[The image shows this text: ") + words + "]";
  }
  if (trim(msg).empty()) throw Error("turn: nothing was recognised in the input");
  res.prompt = msg;
  conv.add_user(UserMessage::text_only(msg));

  // TTS worker: speaks clauses as the LLM produces them.
  ClauseQueue queue;
  std::mutex audio_mu;
  std::exception_ptr tts_error;
  std::thread tts_thread;
  if (stages.tts) {
    res.sample_rate = stages.tts->sample_rate();
    tts_thread = std::thread([&] {
      try {
        while (auto clause = queue.pop(cancel)) {
          const std::string speak = opt.normalize ? normalize_for_speech(*clause, opt.language)
                                                  : *clause;
          if (trim(speak).empty()) continue;
          const double t_start = trace.mark("tts", "start", speak);
          bool first = true;
          stages.tts->synthesize(speak, opt.tts, cancel, [&](const AudioChunk& c) {
            if (cancel.cancelled()) return false;
            if (c.samples.empty()) return true;
            const double t = trace.mark("tts", "chunk", std::to_string(c.samples.size()));
            if (first && sum.tts_first_chunk_ms < 0) sum.tts_first_chunk_ms = t - t_start;
            first = false;
            if (sum.first_audio_ms < 0) {
              sum.first_audio_ms = trace.mark("audio", "first");
            }
            {
              std::lock_guard l(audio_mu);
              res.audio.insert(res.audio.end(), c.samples.begin(), c.samples.end());
            }
            if (cb.on_audio) cb.on_audio(c);
            return !cancel.cancelled();
          });
          trace.mark("tts", "end");
        }
      } catch (...) {
        tts_error = std::current_exception();
        cancel.cancel();
      }
    });
  }

  ClauseChunker chunker(opt.chunker);
  auto send_clause = [&](const std::string& c) {
    res.clauses.push_back(c);
    trace.mark("llm", "clause", c);
    if (cb.on_clause) cb.on_clause(c);
    if (stages.tts) queue.push(c);
  };
  trace.mark("llm", "start");
  bool first_token = true;
  Reply reply;
  try {
    reply = conv.generate(opt.gen, cancel, [&](std::string_view piece) {
      const double t = trace.mark("llm", "token");
      if (first_token) {
        sum.llm_first_token_ms = t - sum.speech_end_ms;
        first_token = false;
      }
      if (cb.on_text && !cb.on_text(piece)) {
        cancel.cancel();
        return false;
      }
      for (const auto& c : chunker.push(piece)) send_clause(c);
      if (auto c = chunker.poll()) send_clause(*c);
      return !cancel.cancelled();
    });
  } catch (...) {
    queue.close();
    cancel.cancel();
    if (tts_thread.joinable()) tts_thread.join();
    throw;
  }
  trace.mark("llm", "end", reply.finish_reason);
  if (!cancel.cancelled()) {
    for (const auto& c : chunker.flush()) send_clause(c);
  }
  queue.close();
  if (tts_thread.joinable()) tts_thread.join();
  if (tts_error) std::rethrow_exception(tts_error);

  res.answer = reply.text;
  res.finish_reason = reply.finish_reason;
  res.cancelled = cancel.cancelled() || reply.finish_reason == "cancelled";
  if (res.cancelled) res.finish_reason = "cancelled";
  sum.prompt_tokens = reply.stats.prompt_tokens;
  sum.reused_tokens = reply.stats.reused_tokens;
  sum.generated_tokens = reply.stats.generated_tokens;
  sum.llm_prompt_ms = reply.stats.prompt_ms;
  sum.llm_total_ms = reply.stats.prompt_ms + reply.stats.generate_ms;
  sum.clauses = static_cast<int>(res.clauses.size());
  if (res.sample_rate > 0) sum.output_audio_s = static_cast<double>(res.audio.size()) / res.sample_rate;
  if (sum.first_audio_ms >= 0 && sum.speech_end_ms >= 0) {
    sum.voice_to_voice_ms = sum.first_audio_ms - sum.speech_end_ms;
  }
  trace.mark("turn", res.cancelled ? "cancelled" : "end");
  return res;
}

}  // namespace omni::pipeline
