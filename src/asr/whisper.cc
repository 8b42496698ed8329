// Greedy decoding at temperature 0 following whisper.cpp's whisper_full (same filters, same
// window/seek bookkeeping, same segment construction), so token sequences and segments match it.
#include "asr/whisper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

#include "asr/mel.h"
#include "asr/resample.h"
#include "asr/whisper_forward.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace omni::asr {
namespace {

// Whisper's language codes in token order.
constexpr std::array<const char*, 100> kLanguages = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl",  "ar", "sv",
    "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu",  "ta", "no",
    "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv",  "bn", "sr",
    "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk",  "sq", "sw",
    "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg",  "sd", "gu",
    "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my",  "bo", "tl",
    "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};

constexpr int kChunkFrames = 3000;  // 30 s of 10 ms mel frames
constexpr int kDeltaMin = 10;       // windows shorter than 100 ms are not decoded
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void log_softmax(const std::vector<float>& logits, std::vector<float>& logprobs) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  float sum = 0.0f;
  for (float l : logits) {
    if (l > kNegInf) sum += std::exp(l - mx);
  }
  const float lse = std::log(sum) + mx;
  logprobs.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    logprobs[i] = logits[i] > kNegInf ? logits[i] - lse : kNegInf;
  }
}

struct Sequence {
  std::vector<WhisperTokenData> tokens;
  int result_len = 0;
  double sum_logprobs = kNegInf, avg_logprobs = kNegInf, entropy = 0, score = kNegInf;
};

class Greedy {
 public:
  Greedy(const WhisperModel& m, const TranscribeOptions& o) : m_(m), o_(o), tk_(m.tokens()) {}

  // The logit filters of whisper_process_logits for the current sequence state; fills
  // logprobs_ and probs_ from logits (modified in place).
  void process(std::vector<float>& logits, const std::vector<WhisperTokenData>& cur, bool has_ts,
               int seek_delta) {
    const int n = static_cast<int>(logits.size());
    const bool initial = cur.empty();
    if (o_.suppress_blank && initial) {
      logits[tk_.eot] = kNegInf;
      logits[tk_.space] = kNegInf;
    }
    logits[tk_.not_ts] = kNegInf;
    if (o_.no_timestamps) {
      for (int i = tk_.beg; i < n; ++i) logits[i] = kNegInf;
    }
    logits[tk_.sot] = kNegInf;
    logits[tk_.nosp] = kNegInf;
    logits[tk_.solm] = kNegInf;
    logits[tk_.translate] = kNegInf;
    logits[tk_.transcribe] = kNegInf;
    logits[tk_.prev] = kNegInf;
    for (int i = 0; i < static_cast<int>(kLanguages.size()); ++i) {
      if (tk_.lang(i) < n) logits[tk_.lang(i)] = kNegInf;
    }
    // Timestamps come in pairs, except directly before EOT.
    const bool last_ts = !cur.empty() && cur.back().id >= tk_.beg;
    const bool penult_ts = cur.size() < 2 || cur[cur.size() - 2].id >= tk_.beg;
    if (last_ts) {
      if (penult_ts) {
        for (int i = tk_.beg; i < n; ++i) logits[i] = kNegInf;
      } else {
        for (int i = 0; i < tk_.eot; ++i) logits[i] = kNegInf;
      }
    }
    if (initial && o_.max_initial_ts > 0.0f) {
      const float precision = 30.0f / static_cast<float>(m_.hparams().n_audio_ctx);
      const int tid0 = static_cast<int>(std::round(o_.max_initial_ts / precision));
      for (int i = tk_.beg + tid0 + 1; i < n; ++i) logits[i] = kNegInf;
    }
    if (has_ts) {
      const int tid0 = seek_delta / 2;
      for (int i = tk_.beg; i < tk_.beg + tid0 && i < n; ++i) logits[i] = kNegInf;
    }
    log_softmax(logits, logprobs_);
    // If the timestamps together are more likely than any text token, sample a timestamp.
    {
      float ts_logprob = kNegInf;
      const float mx = *std::max_element(logprobs_.begin() + tk_.beg, logprobs_.end());
      float sum = 0.0f;
      for (int i = tk_.beg; i < n; ++i) {
        if (logprobs_[i] > kNegInf) sum += std::exp(logprobs_[i] - mx);
      }
      if (sum > 0.0f) ts_logprob = std::log(sum) + mx;
      const float max_text = *std::max_element(logprobs_.begin(), logprobs_.begin() + tk_.beg);
      if (ts_logprob > max_text) {
        for (int i = 0; i < tk_.beg; ++i) logits[i] = logprobs_[i] = kNegInf;
      }
    }
    probs_.resize(logits.size());
    for (int i = 0; i < n; ++i) probs_[i] = logits[i] == kNegInf ? 0.0f : std::exp(logprobs_[i]);
  }

  WhisperTokenData sample() const {
    WhisperTokenData r;
    const int n = static_cast<int>(probs_.size());
    double sum_ts = 0.0, max_ts = 0.0;
    for (int i = tk_.beg; i < n; ++i) {
      sum_ts += probs_[i];
      if (max_ts < probs_[i]) {
        max_ts = probs_[i];
        r.tid = i;
      }
    }
    r.pt = static_cast<float>(max_ts / (sum_ts + 1e-10));
    r.ptsum = static_cast<float>(sum_ts);
    for (int i = 0; i < n; ++i) {
      if (r.p < probs_[i]) {
        r.id = i;
        r.p = probs_[i];
        r.plog = logprobs_[i];
      }
    }
    if (r.id >= tk_.beg) {
      r.tid = r.id;
      r.pt = r.p;
    }
    return r;
  }

 private:
  const WhisperModel& m_;
  const TranscribeOptions& o_;
  const WhisperTokens& tk_;
  std::vector<float> logprobs_, probs_;
};

void score(Sequence& s) {
  if (s.result_len == 0) return;
  double sum = 0.0;
  for (int i = 0; i < s.result_len; ++i) sum += s.tokens[i].plog;
  s.sum_logprobs = sum;
  s.avg_logprobs = sum / s.result_len;
  s.score = sum / s.result_len;  // length_penalty -1: divide by the length
  std::map<int32_t, int> counts;
  int cnt = 0;
  for (int i = std::max(0, s.result_len - 32); i < s.result_len; ++i) {
    ++counts[s.tokens[i].id];
    ++cnt;
  }
  double entropy = 0.0;
  for (const auto& kv : counts) {
    const double p = kv.second / static_cast<double>(cnt);
    entropy -= p * std::log(p);
  }
  s.entropy = entropy;
}

}  // namespace

int whisper_language_index(const std::string& code) {
  for (size_t i = 0; i < kLanguages.size(); ++i) {
    if (code == kLanguages[i]) return static_cast<int>(i);
  }
  return -1;
}

Transcriber::Transcriber(const std::string& model_path, int threads)
    : Transcriber(WhisperModel::load(model_path), threads) {}

Transcriber::Transcriber(std::shared_ptr<const WhisperModel> model, int threads)
    : model_(std::move(model)) {
  if (threads > 0) own_pool_ = std::make_unique<ThreadPool>(threads);
  pool_ = own_pool_ ? own_pool_.get() : &ThreadPool::global();
}

Transcriber::~Transcriber() = default;

Transcript Transcriber::transcribe(const Audio& audio, const TranscribeOptions& options) {
  const Audio in = to_whisper_input(audio);
  return transcribe_16k(in.samples, options);
}

Transcript Transcriber::transcribe_16k(std::span<const float> samples,
                                       const TranscribeOptions& o) {
  LogMelOptions mo;
  mo.pool = pool_;
  return transcribe_mel(log_mel_spectrogram(samples, model_->mel_filters(), mo), o);
}

Transcript Transcriber::transcribe_mel(const LogMel& mel, const TranscribeOptions& o) {
  if (mel.n_mel <= 0 || mel.n_len < 0 || mel.n_len_org < 0 || mel.n_len_org > mel.n_len ||
      mel.data.size() != static_cast<size_t>(mel.n_mel) * static_cast<size_t>(mel.n_len)) {
    throw Error("whisper: inconsistent log-mel (" + std::to_string(mel.n_mel) + " bins x " +
                std::to_string(mel.n_len) + " frames, " + std::to_string(mel.n_len_org) +
                " real, " + std::to_string(mel.data.size()) + " values)");
  }
  const WhisperModel& m = *model_;
  const WhisperTokens& tk = m.tokens();
  const int n_vocab = m.n_vocab();

  std::vector<int32_t> prompt = {tk.sot};
  if (tk.multilingual) {
    const int lang = whisper_language_index(o.language);
    if (lang < 0 || lang >= tk.n_languages) throw Error("unknown language '" + o.language + "'");
    prompt.push_back(tk.lang(lang));
    prompt.push_back(o.translate ? tk.translate : tk.transcribe);
  }
  if (o.no_timestamps) prompt.push_back(tk.not_ts);

  Transcript out;
  WhisperDecoder dec(m, *pool_);
  Greedy greedy(m, o);
  std::vector<float> logits;
  const int n_ctx = o.audio_ctx > 0 ? std::min(o.audio_ctx, m.hparams().n_audio_ctx)
                                    : m.hparams().n_audio_ctx;
  int n_max = m.hparams().n_text_ctx / 2 - 4;
  const bool capped = o.max_tokens > 0 && o.max_tokens < n_max;
  if (capped) n_max = o.max_tokens;
  const int seek_end = mel.n_len_org;
  int seek = 0;
  while (seek + kDeltaMin < seek_end) {
    dec.set_audio(whisper_encode(m, mel, seek, n_ctx, *pool_), n_ctx);
    dec.decode(prompt.data(), static_cast<int>(prompt.size()), logits);
    float no_speech_prob = 0.0f;
    {
      std::vector<float> lp;
      log_softmax(logits, lp);
      no_speech_prob = std::exp(lp[tk.nosp]);
    }

    Sequence seq;
    seq.result_len = 0;
    int seek_delta = kChunkFrames;
    bool has_ts = false, failed = false, completed = false;
    greedy.process(logits, seq.tokens, has_ts, seek_delta);
    for (int i = 0; i < n_max; ++i) {
      const WhisperTokenData token = greedy.sample();
      seq.tokens.push_back(token);
      do {
        if (token.id > tk.beg) {
          const int seek_delta_new = 2 * (token.id - tk.beg);
          if (has_ts && seek_delta > seek_delta_new && seq.result_len < i) {
            failed = true;  // decreasing timestamp
            break;
          }
          seek_delta = seek_delta_new;
          seq.result_len = i + 1;
          has_ts = true;
        }
        if (token.id == tk.eot || (has_ts && seek + seek_delta + kDeltaMin >= seek_end)) {
          if (seq.result_len == 0 && !o.no_timestamps) {
            if (seek + seek_delta + kDeltaMin >= seek_end) {
              seq.result_len = i + 1;
            } else {
              failed = true;
              break;
            }
          }
          if (o.no_timestamps) {
            seq.result_len = i + 1;
            seek_delta = kChunkFrames;
          }
          completed = true;
          break;
        }
        if (capped && i == n_max - 1) {
          seq.result_len = i + 1;
          seek_delta = std::min(seek_end - seek, kChunkFrames);
          completed = true;
          break;
        }
        if (i == n_max - 1 && (seq.result_len == 0 || seek_delta < kChunkFrames / 2)) {
          failed = true;  // repetition loop
        }
      } while (false);
      if (completed || failed) break;
      dec.decode(&token.id, 1, logits);
      if (static_cast<int>(logits.size()) != n_vocab) throw Error("whisper: bad logits size");
      greedy.process(logits, seq.tokens, has_ts, seek_delta);
    }
    if (!failed) {
      seq.tokens.resize(static_cast<size_t>(seq.result_len));
      score(seq);
      // An entropy failure would trigger temperature fallback; at the last (only) temperature
      // the result is used as is.
    }

    const auto& toks = seq.tokens;
    const bool no_speech = no_speech_prob > o.no_speech_thold && seq.avg_logprobs < o.logprob_thold;
    if (!toks.empty() && !no_speech) {
      size_t i0 = 0;
      int64_t t0 = seek + 2 * static_cast<int64_t>(toks.front().tid - tk.beg);
      std::string text;
      auto emit = [&](int64_t a, int64_t b, size_t end) {
        WhisperSegment s;
        s.t0 = a;
        s.t1 = b;
        s.text = text;
        s.no_speech_prob = no_speech_prob;
        s.tokens.assign(toks.begin() + static_cast<std::ptrdiff_t>(i0),
                        toks.begin() + static_cast<std::ptrdiff_t>(end));
        out.text += text;
        out.segments.push_back(std::move(s));
      };
      for (size_t i = 0; i < toks.size(); ++i) {
        if (toks[i].id < tk.eot) text += m.token_text(toks[i].id);
        if (toks[i].id > tk.beg) {
          const int64_t t1 = seek + 2 * static_cast<int64_t>(toks[i].tid - tk.beg);
          if (!text.empty()) emit(t0, t1, i + 1);
          text.clear();
          t0 = t1;
          while (i + 1 < toks.size() && toks[i + 1].id > tk.beg) {
            ++i;
            t0 = seek + 2 * static_cast<int64_t>(toks[i].tid - tk.beg);
          }
          i0 = i + 1;
        }
      }
      if (!text.empty()) emit(t0, seek + seek_delta, toks.size());
    }
    const bool single_ts_ending = toks.size() > 1 && toks[toks.size() - 2].id < tk.beg &&
                                  toks.back().id > tk.beg;
    if (single_ts_ending) seek_delta = std::min(seek_end - seek, kChunkFrames);
    seek += seek_delta;
  }
  return out;
}

}  // namespace omni::asr
