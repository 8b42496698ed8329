#include "pipeline/turn.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
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


// Image results, shared by every answer attempt of a turn.
struct ImageWork {
  std::shared_future<ImageText> text;
  std::shared_future<ImageEmbeddings> embeddings;
};

// The user-facing text callbacks of one answer. A speculative answer holds them back until the
// end of speech confirms it (a cancelled one is never shown); open() replays them in order and
// lets the rest through. Audio is never held back: it is what the latency is about.
class TextGate {
 public:
  TextGate(const TurnCallbacks& cb, bool open) : cb_(cb), open_(open) {}

  void transcript(const std::string& t) {
    if (!cb_.on_transcript) return;
    std::lock_guard l(mu_);
    if (open_) {
      cb_.on_transcript(t);
    } else {
      held_.push_back([this, t] { cb_.on_transcript(t); return true; });
    }
  }
  // false: the callback asked to stop.
  bool text(std::string_view piece) {
    if (!cb_.on_text) return true;
    std::lock_guard l(mu_);
    if (open_) return cb_.on_text(piece);
    held_.push_back([this, p = std::string(piece)] { return cb_.on_text(p); });
    return true;
  }
  void clause(const std::string& c) {
    if (!cb_.on_clause) return;
    std::lock_guard l(mu_);
    if (open_) {
      cb_.on_clause(c);
    } else {
      held_.push_back([this, c] {
        cb_.on_clause(c);
        return true;
      });
    }
  }
  // Replays what was held; false when on_text asked to stop.
  bool open() {
    std::lock_guard l(mu_);
    bool go_on = true;
    for (auto& f : held_) go_on = f() && go_on;
    held_.clear();
    open_ = true;
    return go_on;
  }

 private:
  const TurnCallbacks& cb_;
  std::mutex mu_;
  bool open_;
  std::vector<std::function<bool()>> held_;
};

// Holds a speculative answer's first audio until `release` (enough silence after the speech) or
// until the end of speech confirms the answer.
struct AudioHold {
  Clock::time_point release;
  std::atomic<bool> confirmed{false};
  // false: cancelled while waiting.
  bool wait(const CancelToken& cancel) const {
    while (!confirmed && Clock::now() < release && !cancel.cancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return !cancel.cancelled();
  }
};

// One answer to res.transcript (plus typed text and the image): the user message goes into the
// conversation, the LLM streams through the clause chunker into the TTS worker. Fills the answer
// part of `res` and the answer timings of `sum` (whose speech_end_ms must be set).
void answer(const Stages& stages, TextGenerator& conv, const TurnInput& input,
            const TurnOptions& opt, const CancelToken& cancel, Trace& trace, TextGate& gate,
            const TurnCallbacks& cb, const ImageWork& img, TurnResult& res, TraceSummary& sum,
            const AudioHold* hold = nullptr) {
  std::string image_kind;
  if (img.text.valid()) {
    const auto t_img = Clock::now();
    const ImageText& t = img.text.get();
    sum.image_ms = ms_since(t_img, Clock::now());
    res.image_text = trim(t.text);
    image_kind = t.kind;
  }
  std::shared_ptr<const ImageEmbeddings> embeddings;
  if (img.embeddings.valid()) {
    const auto t_img = Clock::now();
    auto e = std::make_shared<ImageEmbeddings>(img.embeddings.get());
    sum.image_ms = ms_since(t_img, Clock::now());
    res.image_tokens = e->n_tokens;
    embeddings = std::move(e);
  }
  if (cancel.cancelled()) {
    res.cancelled = true;
    res.finish_reason = "cancelled";
    return;
  }

  // The user message: what was said, what was typed, what the image shows.
  std::string msg = res.transcript;
  if (!input.text.empty()) msg += (msg.empty() ? "" : "\n") + input.text;
  if (input.image && !embeddings) {
    if (image_kind == "caption") {
      msg += (msg.empty() ? "" : "\n") + std::string("[Image description: ") +
             (res.image_text.empty() ? "(none)" : res.image_text) + "]";
    } else {
      const std::string words = res.image_text.empty() ? "(no text found)" : res.image_text;
      msg += (msg.empty() ? "" : "\n") + std::string("[The image shows this text: ") + words + "]";
    }
  }
  if (trim(msg).empty() && !embeddings) throw Error("turn: nothing was recognised in the input");
  res.prompt = msg;
  if (embeddings) {
    // The image first, then the words on the next line (LLaVA's "<image>\nquestion").
    UserMessage m;
    m.parts.push_back(MessagePart{"", std::make_shared<const ImageInput>(*input.image), embeddings});
    if (!trim(msg).empty()) m.parts.push_back(MessagePart{"\n" + msg, nullptr, nullptr});
    conv.add_user(m);
  } else {
    conv.add_user(UserMessage::text_only(msg));
  }

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
            if (hold && sum.first_audio_ms < 0 && !hold->wait(cancel)) return false;
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
  int tokens_so_far = 0;
  auto send_clause = [&](const std::string& c) {
    res.clauses.push_back(c);
    const double t = trace.mark("llm", "clause", c);
    if (sum.first_clause_at_ms < 0) {
      sum.first_clause_at_ms = t;
      sum.first_clause_tokens = tokens_so_far;
    }
    gate.clause(c);
    if (stages.tts) queue.push(c);
  };
  trace.mark("llm", "start");
  bool first_token = true;
  Reply reply;
  try {
    reply = conv.generate(opt.gen, cancel, [&](std::string_view piece) {
      const double t = trace.mark("llm", "token");
      ++tokens_so_far;
      if (first_token) {
        sum.llm_first_token_ms = t - sum.speech_end_ms;
        sum.first_token_at_ms = t;
        first_token = false;
      }
      if (!gate.text(piece)) {
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
}

// The answer timings of a confirmed speculative answer, into the turn's summary.
void take_answer_stats(const TraceSummary& a, TraceSummary& s) {
  s.asr_ms = a.asr_ms;
  s.image_ms = a.image_ms;
  s.llm_prompt_ms = a.llm_prompt_ms;
  s.llm_first_token_ms = a.llm_first_token_ms;
  s.llm_total_ms = a.llm_total_ms;
  s.tts_first_chunk_ms = a.tts_first_chunk_ms;
  s.first_audio_ms = a.first_audio_ms;
  s.prompt_tokens = a.prompt_tokens;
  s.reused_tokens = a.reused_tokens;
  s.generated_tokens = a.generated_tokens;
  s.clauses = a.clauses;
  s.output_audio_s = a.output_audio_s;
  s.asr_start_ms = a.asr_start_ms;
  s.asr_end_ms = a.asr_end_ms;
  s.first_token_at_ms = a.first_token_at_ms;
  s.first_clause_at_ms = a.first_clause_at_ms;
  s.first_clause_tokens = a.first_clause_tokens;
}

// An answer started at a pause, on its own thread, while the audio keeps arriving.
struct Attempt {
  explicit Attempt(const TurnCallbacks& cb) : gate(cb, false) {}
  // Leaving early (an exception in the feeding loop): stop the answer before its frame goes.
  ~Attempt() {
    cancel.cancel();
    if (thread.joinable()) thread.join();
  }
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;
  CancelToken cancel;
  std::unique_ptr<ConversationSnapshot> snapshot;
  TurnResult res;
  TraceSummary sum;
  TextGate gate;
  std::exception_ptr error;
  bool answered = false;  // the transcript was there and the answer started
  bool unsupported = false;  // the stream cannot peek()
  std::atomic<bool> done{false};
  AudioHold hold;
  std::thread thread;
};

// Feeds `a` at real-time pace (times `speed`) to the stream (or buffers it for whole-utterance
// ASR), prefilling the LLM with what is already known, until the input ends or the VAD decides
// the speech has ended. Returns the transcript, or a confirmed speculative answer (which then
// holds the transcript and the answer).
std::string feed_realtime(const Stages& stages, TextGenerator& conv, const TurnInput& input,
                          const TurnOptions& opt, const CancelToken& cancel, Trace& trace,
                          const TurnCallbacks& cb, const ImageWork& img,
                          std::unique_ptr<Attempt>& confirmed) {
  TraceSummary& sum = trace.summary;
  const double speed = input.realtime_speed;
  if (!(speed > 0)) throw Error("turn: realtime_speed must be > 0");
  const std::vector<float> s16k = asr::to_whisper_input(*input.audio).samples;
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
  bool speculate = opt.speculate && opt.vad && opt.vad->pause_ms > 0 &&
                   opt.vad->pause_ms < opt.vad->hangover_ms && conv.snapshot() != nullptr;
  std::unique_ptr<Attempt> att;
  std::vector<float> held;  // audio the stream has not been given while an attempt runs
  double speech_end_s = -1;  // the VAD's last speech sample, in stream seconds
  const size_t block = static_cast<size_t>(16 * std::max(1, opt.feed_block_ms));
  size_t fed = 0;

  auto start_attempt = [&](const VadEvent& e) {
    att = std::make_unique<Attempt>(cb);
    att->snapshot = conv.snapshot();
    att->sum.speech_end_ms = ms_since(trace.start(), wall(e.t_s));
    att->hold.release = wall(e.t_s + std::max(0, opt.speculative_hold_ms) / 1000.0);
    ++sum.speculations;
    trace.mark("turn", "speculate", "pause after " + std::to_string(e.t_s) + " s");
    const size_t heard = fed;
    att->thread = std::thread([&, a = att.get(), heard] {
      try {
        a->sum.asr_start_ms = trace.mark("asr", "start", "speculative");
        std::optional<SttResult> r;
        if (stream) {
          r = stream->peek();
        } else {
          asr::Audio so_far;
          so_far.sample_rate = 16000;
          so_far.channels = 1;
          so_far.samples.assign(s16k.begin(), s16k.begin() + static_cast<std::ptrdiff_t>(heard));
          r = stages.stt->transcribe(so_far, opt.stt, a->cancel);
        }
        a->unsupported = !r.has_value();
        a->sum.asr_end_ms = trace.mark("asr", "peek", r ? r->text : "(not supported)");
        a->sum.asr_ms = a->sum.asr_end_ms - a->sum.asr_start_ms;
        if (r && !r->cancelled && !a->cancel.cancelled() &&
            (!trim(r->text).empty() || !input.text.empty() || input.image)) {
          a->res.transcript = r->text;
          a->answered = true;
          a->gate.transcript(r->text);
          answer(stages, conv, input, opt, a->cancel, trace, a->gate, cb, img, a->res, a->sum,
                 &a->hold);
        }
      } catch (...) {
        a->error = std::current_exception();
      }
      a->done = true;
    });
  };
  // Speech resumed (or the attempt is not wanted): cancel it, put the conversation back and give
  // the stream the audio it missed.
  auto drop_attempt = [&](const char* why) {
    att->cancel.cancel();
    att->thread.join();
    conv.restore(*att->snapshot);
    if (!att->res.audio.empty()) {  // the thread has ended: no lock needed
      if (cb.on_audio_retracted) cb.on_audio_retracted();
      sum.retracted_audio_s +=
          static_cast<double>(att->res.audio.size()) / std::max(1, att->res.sample_rate);
      trace.mark("turn", "audio_retracted", std::to_string(att->res.audio.size()) + " samples");
    }
    trace.mark("turn", "speculation_cancelled", why);
    ++sum.speculations_cancelled;
    const bool unsupported = att->unsupported;
    att.reset();
    if (unsupported) speculate = false;  // e.g. a stream that cannot peek: wait for the end
    if (stream && !held.empty()) stream->feed(held);
    held.clear();
  };

  while (fed < s16k.size() && !cancel.cancelled() && speech_end_s < 0) {
    sleep_until(wall(static_cast<double>(fed) / 16000.0), cancel);
    const auto chunk = std::span<const float>(s16k).subspan(fed, std::min(block, s16k.size() - fed));
    if (att) {
      held.insert(held.end(), chunk.begin(), chunk.end());
    } else if (stream) {
      stream->feed(chunk);
    }
    fed += chunk.size();
    if (vad) {
      for (const auto& e : vad->feed(chunk)) {
        if (e.kind == VadEvent::kSpeechStart) {
          trace.mark("vad", "speech_start", std::to_string(e.t_s) + " s");
        } else if (e.kind == VadEvent::kPause) {
          trace.mark("vad", "pause", std::to_string(e.t_s) + " s, decided at " +
                                         std::to_string(e.detected_s) + " s");
          if (speculate && !att) start_attempt(e);
        } else if (e.kind == VadEvent::kResume) {
          trace.mark("vad", "resume", std::to_string(e.t_s) + " s");
          if (att) drop_attempt("speech resumed");
        } else {
          speech_end_s = e.t_s;
          trace.mark("vad", "speech_end", std::to_string(e.t_s) + " s, decided at " +
                                              std::to_string(e.detected_s) + " s");
        }
      }
    }
    if (!att && stable_changed && stable != prefilled && speech_end_s < 0) {
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
  if (att) {
    if (cancel.cancelled()) {
      drop_attempt("turn cancelled");
    } else {
      // The end of speech confirms the attempt: its text may be shown now.
      trace.mark("turn", "speculation_confirmed");
      att->hold.confirmed = true;
      if (!att->gate.open()) att->cancel.cancel();
      while (!att->done) {
        if (cancel.cancelled()) att->cancel.cancel();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      att->thread.join();
      if (att->error) std::rethrow_exception(att->error);
      if (att->answered) {
        confirmed = std::move(att);
        return confirmed->res.transcript;
      }
      drop_attempt("nothing recognised at the pause");
    }
  }
  sum.asr_start_ms = trace.mark("asr", "start");
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
  sum.asr_end_ms = trace.mark("asr", "end", r.text);
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
  const bool embed_image = input.image && stages.image_encoder;
  if (input.image && !stages.image_reader && !embed_image) {
    throw Error("turn: image input needs an image reader or an image encoder");
  }
  if (embed_image && !conv.supports_images()) {
    throw Error("turn: " + conv.name() + " does not take image embeddings (use an image reader)");
  }
  trace.mark("turn", "start");

  // The image is read (or encoded) while the audio arrives.
  ImageWork img;
  if (embed_image) {
    img.embeddings = std::async(std::launch::async, [&] {
      trace.mark("image", "start");
      ImageEmbeddings e = stages.image_encoder->encode(*input.image, cancel);
      trace.mark("image", "end", std::to_string(e.n_tokens) + " tokens");
      return e;
    }).share();
  } else if (input.image) {
    img.text = std::async(std::launch::async, [&] {
      trace.mark("image", "start");
      ImageText t = stages.image_reader->describe(*input.image, cancel);
      trace.mark("image", "end", std::to_string(t.text.size()) + " bytes");
      return t;
    }).share();
  }
  // Waits for the image work before leaving (it refers to this frame).
  struct ImageJoin {
    ImageWork& w;
    ~ImageJoin() {
      if (w.text.valid()) w.text.wait();
      if (w.embeddings.valid()) w.embeddings.wait();
    }
  } image_join{img};

  TextGate gate(cb, true);
  std::unique_ptr<Attempt> confirmed;
  // Speech: real-time feeding (with prefill of what is known) or all at once.
  if (input.audio) {
    const asr::Audio& a = *input.audio;
    sum.input_audio_s = a.seconds();
    trace.mark("input", "start", std::to_string(a.seconds()) + " s");
    if (input.realtime) {
      res.transcript = feed_realtime(stages, conv, input, opt, cancel, trace, cb, img, confirmed);
    } else {
      asr::Audio speech = a;
      if (opt.vad) speech = trim_trailing_silence(a, *opt.vad, trace);
      sum.speech_audio_s = speech.seconds();
      sum.speech_end_ms = trace.mark("input", "end");
      sum.asr_start_ms = trace.mark("asr", "start");
      const auto t_asr = Clock::now();
      SttResult r = stages.stt->transcribe(speech, opt.stt, cancel);
      sum.asr_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_asr).count();
      res.transcript = r.text;
      sum.asr_end_ms = trace.mark("asr", "end", res.transcript);
    }
    if (!confirmed) gate.transcript(res.transcript);
  } else {
    sum.speech_end_ms = trace.mark("input", "end");
  }

  if (confirmed) {
    TurnResult& a = confirmed->res;
    res.image_text = std::move(a.image_text);
    res.image_tokens = a.image_tokens;
    res.prompt = std::move(a.prompt);
    res.answer = std::move(a.answer);
    res.clauses = std::move(a.clauses);
    res.finish_reason = std::move(a.finish_reason);
    res.cancelled = a.cancelled || cancel.cancelled();
    if (res.cancelled) res.finish_reason = "cancelled";
    res.sample_rate = a.sample_rate;
    res.audio = std::move(a.audio);
    take_answer_stats(confirmed->sum, sum);
  } else {
    if (cancel.cancelled()) {
      res.cancelled = true;
      res.finish_reason = "cancelled";
      trace.mark("turn", "cancelled");
      return res;
    }
    answer(stages, conv, input, opt, cancel, trace, gate, cb, img, res, sum);
  }
  if (sum.first_audio_ms >= 0 && sum.speech_end_ms >= 0) {
    sum.voice_to_voice_ms = sum.first_audio_ms - sum.speech_end_ms;
  }
  trace.mark("turn", res.cancelled ? "cancelled" : "end");
  return res;
}

}  // namespace omni::pipeline
