// Decoding following whisper.cpp's whisper_full: the same logit filters, window/seek bookkeeping
// and segment construction (greedy at temperature 0 matches its token sequences exactly), plus
// beam search, best-of sampling with temperature fallback, no-speech skipping, previous-text
// prompts and language detection.
#include "asr/whisper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <random>

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

// Symbols whisper.cpp's suppress_nst masks (alone and with a leading space).
constexpr std::array<const char*, 53> kNonSpeech = {
    "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^",
    "_", "`", "{", "|", "}", "~", "「", "」", "『", "』", "<<", ">>", "<<<", ">>>", "--", "---",
    "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "♪♪", "♪♪♪",
    "♩", "♪", "♫", "♬", "♭", "♮"};

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
  double sum_logprobs_all = 0;  // over every sampled token: the beam ranking key
  double sum_logprobs = kNegInf, avg_logprobs = kNegInf, entropy = 0, score = kNegInf;
};

// One hypothesis being decoded in a window: its token sequence, the timestamp bookkeeping the
// filters need, and the filtered distribution for the next token.
struct Hypothesis {
  Sequence seq;
  int seek_delta = kChunkFrames;
  bool has_ts = false, failed = false, completed = false;
  std::vector<float> logits, logprobs, probs;
  std::mt19937 rng;
};

// The logit filters of whisper_process_logits.
class LogitFilter {
 public:
  LogitFilter(const WhisperModel& m, const TranscribeOptions& o) : m_(m), o_(o), tk_(m.tokens()) {
    if (o.suppress_non_speech) {
      for (const char* sym : kNonSpeech) {
        std::string t = sym;
        if (const int32_t id = m.find_token(t); id >= 0) non_speech_.push_back(id);
        t.insert(t.begin(), ' ');
        if (const int32_t id = m.find_token(t); id >= 0) non_speech_.push_back(id);
      }
      // Hyphens and apostrophes are fine inside words, not at their start.
      for (const char* t : {" -", " '"}) {
        if (const int32_t id = m.find_token(t); id >= 0) non_speech_.push_back(id);
      }
    }
  }

  // Filters h.logits (in place, scaled by 1/temperature when > 0) and fills h.logprobs / probs.
  void process(Hypothesis& h, float temperature) const {
    std::vector<float>& logits = h.logits;
    const auto& cur = h.seq.tokens;
    const int n = static_cast<int>(logits.size());
    if (temperature > 0.0f) {
      for (float& l : logits) l /= temperature;
    }
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
    for (int32_t id : non_speech_) logits[id] = kNegInf;
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
    if (h.has_ts) {
      const int tid0 = h.seek_delta / 2;
      for (int i = tk_.beg; i < tk_.beg + tid0 && i < n; ++i) logits[i] = kNegInf;
    }
    log_softmax(logits, h.logprobs);
    // If the timestamps together are more likely than any text token, sample a timestamp.
    {
      float ts_logprob = kNegInf;
      const float mx = *std::max_element(h.logprobs.begin() + tk_.beg, h.logprobs.end());
      float sum = 0.0f;
      for (int i = tk_.beg; i < n; ++i) {
        if (h.logprobs[i] > kNegInf) sum += std::exp(h.logprobs[i] - mx);
      }
      if (sum > 0.0f) ts_logprob = std::log(sum) + mx;
      const float max_text = *std::max_element(h.logprobs.begin(), h.logprobs.begin() + tk_.beg);
      if (ts_logprob > max_text) {
        for (int i = 0; i < tk_.beg; ++i) logits[i] = h.logprobs[i] = kNegInf;
      }
    }
    h.probs.resize(logits.size());
    for (int i = 0; i < n; ++i) {
      h.probs[i] = logits[i] == kNegInf ? 0.0f : std::exp(h.logprobs[i]);
    }
  }

  // Token data for `id` under h's filtered distribution (tid = most probable timestamp, or
  // tid_none when every timestamp is masked: whisper.cpp's greedy path reports 0 there, its beam
  // path <|0.00|>, which then gives no-timestamp segments t0 = seek instead of seek - 2*beg).
  WhisperTokenData token(const Hypothesis& h, int32_t id, int32_t tid_none = 0) const {
    WhisperTokenData r;
    r.tid = tid_none;
    const int n = static_cast<int>(h.probs.size());
    double sum_ts = 0.0, max_ts = 0.0;
    for (int i = tk_.beg; i < n; ++i) {
      sum_ts += h.probs[i];
      if (max_ts < h.probs[i]) {
        max_ts = h.probs[i];
        r.tid = i;
      }
    }
    r.pt = static_cast<float>(max_ts / (sum_ts + 1e-10));
    r.ptsum = static_cast<float>(sum_ts);
    r.id = id;
    r.p = h.probs[id];
    r.plog = h.logprobs[id];
    if (r.id >= tk_.beg) {
      r.tid = r.id;
      r.pt = r.p;
    }
    return r;
  }

  // First index of the maximum probability.
  WhisperTokenData greedy(const Hypothesis& h) const {
    int32_t best = 0;
    for (int i = 1; i < static_cast<int>(h.probs.size()); ++i) {
      if (h.probs[best] < h.probs[i]) best = i;
    }
    return token(h, best);
  }

  // Draws k tokens (with replacement) from h's filtered distribution with h's generator. The
  // same std::discrete_distribution over the same float probabilities as whisper.cpp, so equal
  // generator states give equal draws unless a draw falls within rounding of a bucket edge.
  std::vector<WhisperTokenData> sample(Hypothesis& h, int k = 1, bool beam = false) const {
    std::discrete_distribution<int> dist(h.probs.begin(), h.probs.end());
    std::vector<WhisperTokenData> out;
    out.reserve(static_cast<size_t>(k));
    for (int r = 0; r < k; ++r) out.push_back(token(h, dist(h.rng), beam ? tk_.beg : 0));
    return out;
  }

  // The k most probable tokens (ties: lower id first), as beam search expands a hypothesis.
  std::vector<WhisperTokenData> top_k(const Hypothesis& h, int k) const {
    std::vector<int32_t> ids(h.probs.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
    k = std::min<int>(k, static_cast<int>(ids.size()));
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
      return h.logprobs[a] != h.logprobs[b] ? h.logprobs[a] > h.logprobs[b] : a < b;
    });
    std::vector<WhisperTokenData> out;
    for (int i = 0; i < k; ++i) {
      if (h.probs[ids[i]] > 0.0f) out.push_back(token(h, ids[i], tk_.beg));
    }
    return out;
  }

 private:
  const WhisperModel& m_;
  const TranscribeOptions& o_;
  const WhisperTokens& tk_;
  std::vector<int32_t> non_speech_;
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

// Applies a sampled token to h (whisper.cpp's per-token checks): timestamps move seek_delta and
// result_len, EOT or reaching the end of the audio completes, decreasing timestamps or a full
// context without progress fail.
// capped: n_max is the caller's max_tokens, not the context limit: reaching it ends the window
// as if the text stopped there (a bounded decode, e.g. streaming steps), not as a loop.
void advance(Hypothesis& h, const WhisperTokenData& token, int i, int n_max, bool capped,
             int seek, int seek_end, const WhisperTokens& tk, bool no_timestamps) {
  Sequence& seq = h.seq;
  seq.tokens.push_back(token);
  seq.sum_logprobs_all += token.plog;
  if (token.id > tk.beg) {
    const int seek_delta_new = 2 * (token.id - tk.beg);
    if (h.has_ts && h.seek_delta > seek_delta_new && seq.result_len < i) {
      h.failed = true;  // decreasing timestamp
      return;
    }
    h.seek_delta = seek_delta_new;
    seq.result_len = i + 1;
    h.has_ts = true;
  }
  if (token.id == tk.eot || (h.has_ts && seek + h.seek_delta + kDeltaMin >= seek_end)) {
    if (seq.result_len == 0 && !no_timestamps) {
      if (seek + h.seek_delta + kDeltaMin >= seek_end) {
        seq.result_len = i + 1;
      } else {
        h.failed = true;
        return;
      }
    }
    if (no_timestamps) {
      seq.result_len = i + 1;
      h.seek_delta = kChunkFrames;
    }
    h.completed = true;
    return;
  }
  if (capped && i == n_max - 1) {
    seq.result_len = i + 1;
    h.seek_delta = std::min(seek_end - seek, kChunkFrames);
    h.completed = true;
    return;
  }
  if (i == n_max - 1 && (seq.result_len == 0 || h.seek_delta < kChunkFrames / 2)) {
    h.failed = true;  // repetition loop
  }
}

}  // namespace

int whisper_language_index(const std::string& code) {
  for (size_t i = 0; i < kLanguages.size(); ++i) {
    if (code == kLanguages[i]) return static_cast<int>(i);
  }
  return -1;
}

TranscribeOptions default_decoding_options() {
  TranscribeOptions o;
  o.beam_size = 5;
  o.best_of = 5;
  o.temperature_inc = 0.2f;
  return o;
}

std::string whisper_language_code(int index) {
  if (index < 0 || index >= static_cast<int>(kLanguages.size())) return {};
  return kLanguages[static_cast<size_t>(index)];
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

namespace {

std::vector<float> detect_language(const WhisperModel& m, const LogMel& mel, ThreadPool& pool) {
  const WhisperTokens& tk = m.tokens();
  const int n_ctx = m.hparams().n_audio_ctx;
  WhisperDecoder dec(m, pool);
  dec.set_audio(whisper_encode(m, mel, 0, n_ctx, pool), n_ctx);
  std::vector<float> logits;
  dec.decode(&tk.sot, 1, logits);
  const int n = std::min<int>(tk.n_languages, static_cast<int>(kLanguages.size()));
  if (n < 1) throw Error("whisper: the model has no language tokens");
  // whisper.cpp normalises over all 100 codes of its table: on a model with 99 languages (all
  // but large-v3) the 100th "language" token is <|translate|>, whose logit then takes part in the
  // softmax. Done the same way so the reported probabilities match; only real languages are
  // returned (so they sum to slightly less than 1 there).
  const int n_norm = std::min<int>(static_cast<int>(kLanguages.size()), m.n_vocab() - tk.lang(0));
  std::vector<float> all(static_cast<size_t>(std::max(n, n_norm)));
  for (size_t i = 0; i < all.size(); ++i) all[i] = logits[tk.lang(static_cast<int>(i))];
  float mx = all[0];
  for (float v : all) mx = std::max(mx, v);
  double sum = 0;
  for (float& v : all) sum += (v = std::exp(v - mx));
  std::vector<float> lang(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) lang[i] = static_cast<float>(all[i] / sum);
  return lang;
}

}  // namespace

std::vector<float> Transcriber::language_probs_16k(std::span<const float> samples) {
  const WhisperModel& m = *model_;
  if (!m.tokens().multilingual) {
    throw Error("language detection needs a multilingual Whisper model (this one is English-only)");
  }
  LogMelOptions mo;
  mo.pool = pool_;
  return detect_language(m, log_mel_spectrogram(samples, m.mel_filters(), mo), *pool_);
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
  if (o.beam_size < 1 || o.beam_size > 16 || o.best_of < 1 || o.best_of > 16) {
    throw Error("whisper: beam size and best-of must be in 1..16");
  }
  // (An increment below 0.01 would make the float loop below run for ever or nearly.)
  if (!(o.temperature >= 0.0f && o.temperature <= 1.0f) ||
      !(o.temperature_inc == 0.0f || o.temperature_inc >= 0.01f)) {
    throw Error("whisper: temperature must be in [0, 1] and its increment 0 (off) or >= 0.01");
  }

  Transcript out;
  std::vector<int32_t> prompt_init;
  prompt_init.reserve(4);  // also keeps GCC 12 -O3 from a false -Warray-bounds on the pushes
  prompt_init.push_back(tk.sot);
  if (tk.multilingual) {
    int lang = -1;
    if (o.language.empty() || o.language == "auto") {
      const std::vector<float> probs = detect_language(m, mel, *pool_);
      lang = static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
      out.language_prob = probs[static_cast<size_t>(lang)];
    } else {
      lang = whisper_language_index(o.language);
      if (lang < 0 || lang >= tk.n_languages) throw Error("unknown language '" + o.language + "'");
    }
    out.language = whisper_language_code(lang);
    prompt_init.push_back(tk.lang(lang));
    prompt_init.push_back(o.translate ? tk.translate : tk.transcribe);
  } else {
    if (!o.language.empty() && o.language != "auto" && o.language != "en") {
      throw Error("this Whisper model is English-only (.en): it cannot transcribe language '" +
                  o.language + "'; use a multilingual model");
    }
    out.language = "en";
  }
  if (o.no_timestamps) prompt_init.push_back(tk.not_ts);

  // Accumulated in float like whisper.cpp (0.2 x 5 ends a hair above 1.0, used as it is).
  std::vector<float> temperatures;
  if (o.temperature_inc > 0.0f) {
    for (float t = o.temperature; t < 1.0f + 1e-6f; t += o.temperature_inc) {
      temperatures.push_back(t);
    }
  } else {
    temperatures.push_back(o.temperature);
  }
  const int n_hyp = std::max(o.beam_size, temperatures.size() > 1 || o.temperature > 0.0f
                                              ? o.best_of : 1);
  WhisperDecoder base(m, *pool_);
  std::vector<std::unique_ptr<WhisperDecoder>> decs, spare;
  for (int j = 0; j < n_hyp; ++j) {
    decs.push_back(std::make_unique<WhisperDecoder>(m, *pool_));
    if (o.beam_size > 1) spare.push_back(std::make_unique<WhisperDecoder>(m, *pool_));
  }
  std::vector<Hypothesis> hyps(static_cast<size_t>(n_hyp));
  for (int j = 0; j < n_hyp; ++j) hyps[j].rng.seed(static_cast<uint32_t>(j) + o.seed);
  const LogitFilter filter(m, o);

  std::vector<int32_t> prompt_past;
  if (!o.initial_prompt.empty()) prompt_past = whisper_tokenize(m, o.initial_prompt);
  std::vector<float> prompt_logits;
  const int n_ctx = o.audio_ctx > 0 ? std::min(o.audio_ctx, m.hparams().n_audio_ctx)
                                    : m.hparams().n_audio_ctx;
  const int n_text_ctx = m.hparams().n_text_ctx;
  int n_max = n_text_ctx / 2 - 4;
  const bool capped = o.max_tokens > 0 && o.max_tokens < n_max;
  if (capped) n_max = o.max_tokens;
  const int seek_end = mel.n_len_org;
  int seek = 0;
  while (seek + kDeltaMin < seek_end) {
    const size_t window_first = out.segments.size();
    base.set_audio(whisper_encode(m, mel, seek, n_ctx, *pool_), n_ctx);
    // Previous text as <|startofprev|> context, as much as leaves room for a full window.
    std::vector<int32_t> prompt;
    const int room = n_text_ctx - n_max - 1 - static_cast<int>(prompt_init.size());
    const int n_take = std::min(static_cast<int>(prompt_past.size()), std::max(0, room));
    if (n_take > 0) {
      prompt.push_back(tk.prev);
      prompt.insert(prompt.end(), prompt_past.end() - n_take, prompt_past.end());
    }
    prompt.insert(prompt.end(), prompt_init.begin(), prompt_init.end());
    base.decode(prompt.data(), static_cast<int>(prompt.size()), prompt_logits);
    float no_speech_prob = 0.0f;
    {
      std::vector<float> lp;
      log_softmax(prompt_logits, lp);
      no_speech_prob = std::exp(lp[tk.nosp]);
    }

    Sequence result;
    int result_seek_delta = kChunkFrames;
    float result_temperature = 0.0f;
    // Kept across temperatures, as whisper.cpp does: when every hypothesis of a retry fails, the
    // slot that won the previous temperature supplies the result.
    int best = 0;
    for (size_t ti = 0; ti < temperatures.size(); ++ti) {
      const float t = temperatures[ti];
      const bool beam = o.beam_size > 1 && (!o.beam_topk || t <= 0.0f);
      const int n_cur = t > 0.0f ? o.best_of : o.beam_size;
      for (int j = 0; j < n_cur; ++j) {
        Hypothesis& h = hyps[j];
        h.seq = Sequence{};
        h.seek_delta = kChunkFrames;
        h.has_ts = h.failed = h.completed = false;
        decs[j]->copy_from(base);
        h.logits = prompt_logits;
        filter.process(h, t);
      }
      auto active = [&](int j) { return !hyps[j].completed && !hyps[j].failed; };
      for (int i = 0; i < n_max; ++i) {
        if (beam) {
          struct Candidate {
            int parent;
            WhisperTokenData token;
            double sum;
          };
          std::vector<Candidate> cands;
          if (o.beam_topk) {
            // At the first step all beams are the same hypothesis: expand one.
            for (int j = 0; j < (i == 0 ? 1 : n_cur); ++j) {
              if (!active(j)) continue;
              for (const auto& tok : filter.top_k(hyps[j], o.beam_size)) {
                cands.push_back({j, tok, hyps[j].seq.sum_logprobs_all + tok.plog});
              }
            }
          } else {
            // whisper.cpp: every active beam (all of them at the first step, identical as they
            // are) draws beam_size tokens with its own generator.
            for (int j = 0; j < n_cur; ++j) {
              if (!active(j)) continue;
              for (const auto& tok : filter.sample(hyps[j], o.beam_size, true)) {
                cands.push_back({j, tok, hyps[j].seq.sum_logprobs_all + tok.plog});
              }
            }
          }
          // std::sort, not stable_sort: equal keys then land in the order whisper.cpp's (same
          // algorithm, same comparisons) leaves them.
          std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
            return a.sum != b.sum ? a.sum > b.sum : a.parent < b.parent;
          });
          auto same = [&](const Candidate& a, const Candidate& b) {
            if (a.token.id != b.token.id) return false;
            if (a.parent == b.parent) return true;
            const auto& x = hyps[a.parent].seq.tokens;
            const auto& y = hyps[b.parent].seq.tokens;
            return std::equal(x.begin(), x.end(), y.begin(), y.end(),
                              [](const auto& u, const auto& v) { return u.id == v.id; });
          };
          // Hand the best candidates to the active beams (forking KV caches where the parent
          // differs). After the first step a candidate equal to the one just handed out is
          // skipped; with fewer candidates than beams the list wraps around (whisper.cpp).
          std::vector<int> parent(static_cast<size_t>(n_cur), -1);
          std::vector<WhisperTokenData> chosen(static_cast<size_t>(n_cur));
          size_t c = 0;
          for (int j = 0; j < n_cur && !cands.empty(); ++j) {
            if (!active(j)) continue;
            if (c >= cands.size()) c = 0;
            const Candidate& cur = cands[c++];
            while (i > 0 && c < cands.size() && same(cands[c], cur)) ++c;
            parent[j] = cur.parent;
            chosen[j] = cur.token;
          }
          std::vector<Hypothesis> next(static_cast<size_t>(n_cur));
          for (int j = 0; j < n_cur; ++j) {
            if (parent[j] < 0) continue;
            const Hypothesis& p = hyps[parent[j]];
            next[j].seq = p.seq;
            next[j].seek_delta = p.seek_delta;
            next[j].has_ts = p.has_ts;
            if (parent[j] != j) spare[j]->copy_from(*decs[parent[j]]);
          }
          for (int j = 0; j < n_cur; ++j) {
            if (parent[j] < 0) continue;
            if (parent[j] != j) std::swap(decs[j], spare[j]);
            hyps[j].seq = std::move(next[j].seq);
            hyps[j].seek_delta = next[j].seek_delta;
            hyps[j].has_ts = next[j].has_ts;
            advance(hyps[j], chosen[j], i, n_max, capped, seek, seek_end, tk, o.no_timestamps);
          }
        } else {
          for (int j = 0; j < n_cur; ++j) {
            if (!active(j)) continue;
            Hypothesis& h = hyps[j];
            const WhisperTokenData tok = t > 0.0f ? filter.sample(h)[0] : filter.greedy(h);
            advance(h, tok, i, n_max, capped, seek, seek_end, tk, o.no_timestamps);
          }
        }
        bool any = false;
        for (int j = 0; j < n_cur; ++j) any = any || active(j);
        if (!any || i == n_max - 1) break;
        for (int j = 0; j < n_cur; ++j) {
          if (!active(j)) continue;
          Hypothesis& h = hyps[j];
          decs[j]->decode(&h.seq.tokens.back().id, 1, h.logits);
          if (static_cast<int>(h.logits.size()) != n_vocab) {
            throw Error("whisper: bad logits size");
          }
          filter.process(h, t);
        }
      }
      // Rank the finished hypotheses; when all failed, the previous winner's slot is used as it is.
      double best_score = kNegInf;
      for (int j = 0; j < n_cur; ++j) {
        Hypothesis& h = hyps[j];
        if (h.failed) continue;
        h.seq.tokens.resize(static_cast<size_t>(h.seq.result_len));
        score(h.seq);
        if (h.seq.result_len > 32 && h.seq.entropy < o.entropy_thold) {
          h.failed = true;  // repetitive: a compression-ratio failure in OpenAI's terms
          continue;
        }
        if (best_score < h.seq.score) {
          best_score = h.seq.score;
          best = j;
        }
      }
      result = hyps[best].seq;
      result_seek_delta = hyps[best].seek_delta;
      result_temperature = t;
      // Retry at the next temperature when the winner failed, or when its log-probability is low
      // although the window does not look like silence (whisper.cpp's rule).
      const bool retry = hyps[best].failed || (hyps[best].seq.avg_logprobs < o.logprob_thold &&
                                               no_speech_prob < o.no_speech_thold);
      if (!retry) break;
    }

    const auto& toks = result.tokens;
    int seek_delta = result_seek_delta;
    const bool no_speech =
        no_speech_prob > o.no_speech_thold && result.avg_logprobs < o.logprob_thold;
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
    // The next window's context: this prompt's previous text plus what was kept here (OpenAI
    // drops the context after a high-temperature fallback, whose text is unreliable).
    if (o.carry_context && result_temperature <= 0.5f) {
      std::vector<int32_t> past;
      if (n_take > 0) past.assign(prompt.begin() + 1, prompt.begin() + 1 + n_take);
      const size_t n_keep = std::min(toks.size(), static_cast<size_t>(result.result_len));
      for (size_t i = 0; i < n_keep && !no_speech; ++i) past.push_back(toks[i].id);
      prompt_past = std::move(past);
    } else {
      prompt_past.clear();
    }
    const bool single_ts_ending = toks.size() > 1 && toks[toks.size() - 2].id < tk.beg &&
                                  toks.back().id > tk.beg;
    if (single_ts_ending) seek_delta = std::min(seek_end - seek, kChunkFrames);
    seek += seek_delta;
    if (o.on_window &&
        !o.on_window(std::span(out.segments).subspan(window_first))) {
      break;
    }
  }
  return out;
}

}  // namespace omni::asr
