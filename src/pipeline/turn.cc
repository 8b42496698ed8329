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
  std::future<ImageText> image_future;
  std::future<ImageEmbeddings> embed_future;
  if (embed_image) {
    embed_future = std::async(std::launch::async, [&] {
      trace.mark("image", "start");
      ImageEmbeddings e = stages.image_encoder->encode(*input.image, cancel);
      trace.mark("image", "end", std::to_string(e.n_tokens) + " tokens");
      return e;
    });
  } else if (input.image) {
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
      const auto t_start = Clock::now();
      const auto t_end = t_start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(a.seconds()));
      std::string stable;
      std::unique_ptr<SttStream> stream =
          stages.stt->start_stream(opt.stt, cancel, [&](const PartialTranscript& p) {
            stable = p.text.substr(0, std::min(p.stable_bytes, p.text.size()));
          });
      if (stream) {
        // Streaming ASR: feed 16 kHz blocks at real-time pace; prefill stable prefixes.
        const std::vector<float> s16k = asr::to_whisper_input(a).samples;
        const size_t block = static_cast<size_t>(16 * opt.feed_block_ms);
        std::string prefilled;
        for (size_t i = 0; i < s16k.size() && !cancel.cancelled(); i += block) {
          sleep_until(t_start + std::chrono::milliseconds(
                                    static_cast<int64_t>(i / 16)), cancel);
          stream->feed(std::span<const float>(s16k).subspan(i, std::min(block, s16k.size() - i)));
          if (stable != prefilled) {
            prefilled = stable;
            const int n = conv.prefill(trim(stable), cancel);
            sum.prefill_tokens += n;
            if (n > 0) trace.mark("llm", "prefill", std::to_string(n) + " tokens");
          }
        }
        sleep_until(t_end, cancel);
      } else {
        // Whole-utterance ASR: while the audio "arrives", put the conversation so far and the
        // user-turn opener into the KV cache.
        const int n = conv.prefill("", cancel);
        sum.prefill_tokens += n;
        if (n > 0) trace.mark("llm", "prefill", std::to_string(n) + " tokens");
        sleep_until(t_end, cancel);
      }
      sum.speech_end_ms = trace.mark("input", "end");
      trace.mark("asr", "start");
      const auto t_asr = Clock::now();
      SttResult r = stream ? stream->finish() : stages.stt->transcribe(a, opt.stt, cancel);
      sum.asr_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_asr).count();
      res.transcript = r.text;
    } else {
      sum.speech_end_ms = trace.mark("input", "end");
      trace.mark("asr", "start");
      const auto t_asr = Clock::now();
      SttResult r = stages.stt->transcribe(a, opt.stt, cancel);
      sum.asr_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_asr).count();
      res.transcript = r.text;
    }
    trace.mark("asr", "end", res.transcript);
    if (cb.on_transcript) cb.on_transcript(res.transcript);
  } else {
    sum.speech_end_ms = trace.mark("input", "end");
  }

  std::string image_kind;
  if (image_future.valid()) {
    const auto t_img = Clock::now();
    ImageText t = image_future.get();
    sum.image_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_img).count();
    res.image_text = trim(t.text);
    image_kind = t.kind;
  }
  std::shared_ptr<const ImageEmbeddings> embeddings;
  if (embed_future.valid()) {
    const auto t_img = Clock::now();
    auto e = std::make_shared<ImageEmbeddings>(embed_future.get());
    sum.image_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_img).count();
    res.image_tokens = e->n_tokens;
    embeddings = std::move(e);
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
