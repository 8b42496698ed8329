#include "asr/mel.h"

#include <algorithm>
#include <cmath>

#include "asr/fft.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace omni::asr {
namespace {

// Slaney mel scale (librosa htk=False): linear below 1 kHz, logarithmic above.
constexpr double kFsp = 200.0 / 3;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFsp;

double hz_to_mel(double hz) {
  const double logstep = std::log(6.4) / 27.0;
  return hz >= kMinLogHz ? kMinLogMel + std::log(hz / kMinLogHz) / logstep : hz / kFsp;
}
double mel_to_hz(double mel) {
  const double logstep = std::log(6.4) / 27.0;
  return mel >= kMinLogMel ? kMinLogHz * std::exp(logstep * (mel - kMinLogMel)) : kFsp * mel;
}

// One window of the periodic Hann as whisper.cpp fills it: float of 0.5 * (1 - cosf(angle)).
std::vector<float> hann_window() {
  std::vector<float> w(kMelFrameSize);
  for (int i = 0; i < kMelFrameSize; ++i) {
    const double angle = (2.0 * M_PI * i) / kMelFrameSize;
    w[i] = static_cast<float>(0.5 * (1.0 - std::cos(static_cast<float>(angle))));
  }
  return w;
}

// The filter bank is sparse (each mel bin is one triangle). whisper.cpp sums the 201 products in
// float groups of four (k = 4g .. 4g+3) added to a double; a group whose filter weights are all
// zero adds exactly +0, so only groups [first, last] that touch the triangle need evaluating.
struct RowSpan {
  int g_begin = 0, g_end = 0;  // groups of four
  bool tail = false;           // the remainder bins after the last full group are non-zero
};

struct Plan {
  const MelFilterBank& filters;
  std::vector<RowSpan> rows;
  int groups = 0;      // full groups whisper.cpp's unrolled loop runs: k < n_fft - 3
  int tail_begin = 0;  // first remainder bin
};

Plan make_plan(const MelFilterBank& f) {
  Plan p{f, {}, 0, 0};
  // for (k = 0; k < n_fft - 3; k += 4): groups = ceil((n_fft - 3) / 4).
  p.groups = (f.n_fft - 3 + 3) / 4;
  p.tail_begin = 4 * p.groups;
  p.rows.resize(f.n_mel);
  for (int j = 0; j < f.n_mel; ++j) {
    const float* w = &f.data[static_cast<size_t>(j) * f.n_fft];
    int first = -1, last = -1;
    for (int k = 0; k < p.tail_begin; ++k) {
      if (w[k] != 0.0f) {  // NaN counts as non-zero: it must reach the sum as in whisper.cpp
        if (first < 0) first = k;
        last = k;
      }
    }
    RowSpan& r = p.rows[j];
    if (first >= 0) {
      r.g_begin = first / 4;
      r.g_end = last / 4 + 1;
    }
    for (int k = p.tail_begin; k < f.n_fft; ++k) r.tail |= w[k] != 0.0f;
  }
  return p;
}

// Frames [begin, end) with an FFT. Writes unnormalised log10 values: bin j of frame i at
// out[j * bin_stride + i * frame_stride].
void compute_frames(const Plan& plan, const std::vector<float>& padded, const float* hann,
                    int begin, int end, float* out, int64_t bin_stride, int64_t frame_stride) {
  WhisperFft fft(kMelFrameSize);
  std::vector<float> frame(kMelFrameSize), re(kMelBins), im(kMelBins), power(kMelBins);
  const int n_fft = plan.filters.n_fft;
  for (int i = begin; i < end; ++i) {
    const float* x = &padded[static_cast<size_t>(i) * kMelHop];
    for (int k = 0; k < kMelFrameSize; ++k) frame[k] = hann[k] * x[k];
    fft.transform(frame.data(), re.data(), im.data());
    for (int k = 0; k < kMelBins; ++k) power[k] = re[k] * re[k] + im[k] * im[k];
    for (int j = 0; j < plan.filters.n_mel; ++j) {
      const float* w = &plan.filters.data[static_cast<size_t>(j) * n_fft];
      const RowSpan& r = plan.rows[j];
      double sum = 0.0;
      for (int g = r.g_begin; g < r.g_end; ++g) {
        const int k = 4 * g;
        sum += power[k + 0] * w[k + 0] + power[k + 1] * w[k + 1] + power[k + 2] * w[k + 2] +
               power[k + 3] * w[k + 3];
      }
      if (r.tail) {
        for (int k = plan.tail_begin; k < n_fft; ++k) sum += power[k] * w[k];
      }
      out[j * bin_stride + i * frame_stride] = static_cast<float>(std::log10(std::max(sum, 1e-10)));
    }
  }
}

// Runs body(begin, end) over [0, n) on the pool (or inline without one).
template <class F>
void parallel_for(ThreadPool* pool, int n, int grain, F&& body) {
  if (!pool || pool->size() == 1 || n <= grain) {
    body(int64_t{0}, int64_t{n});
    return;
  }
  pool->parallel_for(n, body, grain);
}

}  // namespace

MelFilterBank slaney_mel_filters(int n_mel, int n_fft, int sample_rate) {
  if (n_mel <= 0 || n_mel > 1024)
    throw Error("slaney_mel_filters: bad n_mel " + std::to_string(n_mel));
  if (n_fft < 2 || sample_rate <= 0) throw Error("slaney_mel_filters: bad n_fft or sample rate");
  const int bins = n_fft / 2 + 1;
  // numpy.fft.rfftfreq(n_fft, 1/sr): k * (1 / (n * d)).
  const double val = 1.0 / (n_fft * (1.0 / sample_rate));
  std::vector<double> fftfreqs(bins);
  for (int k = 0; k < bins; ++k) fftfreqs[k] = k * val;
  // mel_frequencies: linspace over the mel range (arange * step + start, endpoint exact).
  const int n_pts = n_mel + 2;
  const double mel_lo = hz_to_mel(0.0), mel_hi = hz_to_mel(sample_rate / 2.0);
  const double step = (mel_hi - mel_lo) / (n_pts - 1);
  std::vector<double> mel_f(n_pts);
  for (int i = 0; i < n_pts; ++i) mel_f[i] = mel_to_hz(i == n_pts - 1 ? mel_hi : i * step + mel_lo);

  MelFilterBank fb;
  fb.n_mel = n_mel;
  fb.n_fft = bins;
  fb.data.resize(static_cast<size_t>(n_mel) * bins);
  for (int i = 0; i < n_mel; ++i) {
    const double fdiff_lo = mel_f[i + 1] - mel_f[i];
    const double fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
    const double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
    for (int k = 0; k < bins; ++k) {
      const double lower = -(mel_f[i] - fftfreqs[k]) / fdiff_lo;
      const double upper = (mel_f[i + 2] - fftfreqs[k]) / fdiff_hi;
      // librosa stores the triangle in float32, then scales it in float64 and rounds again.
      const float tri = static_cast<float>(std::max(0.0, std::min(lower, upper)));
      fb.data[static_cast<size_t>(i) * bins + k] = static_cast<float>(tri * enorm);
    }
  }
  return fb;
}

namespace {
void normalize(LogMel& mel, ThreadPool* pool);
}  // namespace

LogMel log_mel_spectrogram(std::span<const float> samples, const MelFilterBank& filters,
                           const LogMelOptions& opt) {
  if (filters.n_fft != kMelBins || filters.n_mel <= 0 ||
      filters.data.size() != static_cast<size_t>(filters.n_mel) * filters.n_fft) {
    throw Error("log_mel_spectrogram: filter bank must be n_mel x 201, got " +
                std::to_string(filters.n_mel) + " x " + std::to_string(filters.n_fft) + " (" +
                std::to_string(filters.data.size()) + " values)");
  }
  if (opt.pad_samples < 0) throw Error("log_mel_spectrogram: negative padding");
  const int64_t n = static_cast<int64_t>(samples.size());
  constexpr int64_t kReflect = kMelFrameSize / 2;
  const int64_t n_len = (n + opt.pad_samples) / kMelHop;
  if (n_len > (int64_t{1} << 31) / std::max(filters.n_mel, 1)) {
    throw Error("log_mel_spectrogram: " + std::to_string(n) + " samples is too long");
  }
  LogMel mel;
  mel.n_mel = filters.n_mel;
  mel.n_len = static_cast<int>(n_len);
  mel.n_len_org = static_cast<int>(1 + (n + kReflect - kMelFrameSize) / kMelHop);
  mel.data.assign(static_cast<size_t>(mel.n_mel) * mel.n_len, 0.0f);

  // Frames whose window touches real samples get an FFT; whisper.cpp's bound is
  // (n + 200) / 160 + 1 (the later frames see only zeros).
  const int fft_frames = static_cast<int>(std::min<int64_t>((n + kReflect) / kMelHop + 1, n_len));
  // Only the samples those frames read are materialised (not the 30 s of zeros).
  std::vector<float> padded(
      static_cast<size_t>(std::max<int64_t>(0, int64_t{fft_frames} * kMelHop + kMelFrameSize)),
      0.0f);
  const auto sample = [&](int64_t i) {
    const float v = i < n ? samples[static_cast<size_t>(i)] : 0.0f;
    return std::isfinite(v) ? v : 0.0f;
  };
  const int64_t body = std::min<int64_t>(n, static_cast<int64_t>(padded.size()) - kReflect);
  for (int64_t i = 0; i < kReflect && i < static_cast<int64_t>(padded.size()); ++i) {
    padded[static_cast<size_t>(i)] = sample(kReflect - i);  // x[200], x[199], ..., x[1]
  }
  for (int64_t i = 0; i < body; ++i) padded[static_cast<size_t>(kReflect + i)] = sample(i);

  const std::vector<float> hann = hann_window();
  const Plan plan = make_plan(filters);
  parallel_for(opt.pool, fft_frames, 32, [&](int64_t b, int64_t e) {
    compute_frames(plan, padded, hann.data(), static_cast<int>(b), static_cast<int>(e),
                   mel.data.data(), mel.n_len, 1);
  });
  // All-zero frames: log10(1e-10), stored as float like whisper.cpp does.
  const float silent = static_cast<float>(std::log10(1e-10));
  for (int j = 0; j < mel.n_mel; ++j) {
    std::fill(mel.data.begin() + static_cast<size_t>(j) * mel.n_len + fft_frames,
              mel.data.begin() + static_cast<size_t>(j + 1) * mel.n_len, silent);
  }
  if (!opt.normalize || mel.data.empty()) return mel;
  normalize(mel, opt.pool);
  return mel;
}

namespace {
// whisper.cpp's max-8 clamp and (v + 4) / 4 over the whole spectrogram.
void normalize(LogMel& mel, ThreadPool* pool) {
  double mmax = -1e20;
  for (const float v : mel.data) mmax = std::max<double>(mmax, v);
  mmax -= 8.0;
  const float floor_v = static_cast<float>(mmax);
  parallel_for(pool, mel.n_mel, 8, [&](int64_t b, int64_t e) {
    float* d = mel.data.data();
    for (size_t i = static_cast<size_t>(b) * mel.n_len; i < static_cast<size_t>(e) * mel.n_len;
         ++i) {
      float v = d[i];
      if (v < mmax) v = floor_v;
      d[i] = static_cast<float>((v + 4.0) / 4.0);
    }
  });
}

// The padded signal log_mel_spectrogram frames: 200 reflected samples, the audio, zeros.
float padded_sample(const std::vector<float>& x, int64_t p) {
  constexpr int64_t kReflect = kMelFrameSize / 2;
  const int64_t i = p < kReflect ? kReflect - p : p - kReflect;
  return i < static_cast<int64_t>(x.size()) ? x[static_cast<size_t>(i)] : 0.0f;
}

}  // namespace

StreamingLogMel::StreamingLogMel(const MelFilterBank& filters) : filters_(filters) {
  if (filters_.n_fft != kMelBins || filters_.n_mel <= 0 ||
      filters_.data.size() != static_cast<size_t>(filters_.n_mel) * filters_.n_fft) {
    throw Error("StreamingLogMel: filter bank must be n_mel x 201");
  }
}

int64_t StreamingLogMel::fft_frames() const {
  const auto n = static_cast<int64_t>(samples_.size());
  return std::min<int64_t>((n + kMelFrameSize / 2) / kMelHop + 1,
                           (n + kWhisperPadSamples) / kMelHop);
}

void StreamingLogMel::recompute(int64_t begin, int64_t end, ThreadPool* pool) {
  const int n_mel = filters_.n_mel;
  raw_.resize(static_cast<size_t>(fft_frames() * n_mel));
  end = std::min(end, fft_frames());
  if (begin >= end) return;
  // The padded samples frames [begin, end) read, starting at frame `begin`.
  std::vector<float> local(static_cast<size_t>((end - begin) * kMelHop + kMelFrameSize));
  for (size_t p = 0; p < local.size(); ++p) {
    local[p] = padded_sample(samples_, begin * kMelHop + static_cast<int64_t>(p));
  }
  const std::vector<float> hann = hann_window();
  const Plan plan = make_plan(filters_);
  float* out = raw_.data() + begin * n_mel;
  parallel_for(pool, static_cast<int>(end - begin), 32, [&](int64_t b, int64_t e) {
    compute_frames(plan, local, hann.data(), static_cast<int>(b), static_cast<int>(e), out, 1,
                   n_mel);
  });
}

int64_t StreamingLogMel::final_frames() const {
  // Frame i reads padded samples [160 i, 160 i + 400): audio up to 160 i + 200 and, for i < 2,
  // the reflection of samples 1..200. Later samples cannot change it once those exist.
  const auto n = static_cast<int64_t>(samples_.size());
  if (n <= kMelFrameSize / 2) return 0;
  return std::min(fft_frames(), (n - kMelFrameSize / 2) / kMelHop + 1);
}

void StreamingLogMel::append(std::span<const float> samples, ThreadPool* pool) {
  const int64_t from = final_frames();
  for (const float v : samples) samples_.push_back(std::isfinite(v) ? v : 0.0f);
  recompute(from, fft_frames(), pool);
}

void StreamingLogMel::drop_front(int64_t n, ThreadPool* pool) {
  n = std::clamp<int64_t>(n, 0, static_cast<int64_t>(samples_.size()));
  if (n == 0) return;
  const int64_t final_before = final_frames();
  samples_.erase(samples_.begin(), samples_.begin() + n);
  if (n % kMelHop != 0) {
    recompute(0, fft_frames(), pool);
    return;
  }
  // Whole hops: frame i now is old frame i + n/160, except frames 0 and 1, which read the
  // reflection of the new first samples.
  const int64_t shift = n / kMelHop;
  const auto drop = static_cast<std::ptrdiff_t>(
      std::min<int64_t>(shift * filters_.n_mel, static_cast<int64_t>(raw_.size())));
  raw_.erase(raw_.begin(), raw_.begin() + drop);
  const int64_t kept = std::max<int64_t>(0, final_before - shift);
  if (kept < 2) {
    recompute(0, fft_frames(), pool);
    return;
  }
  recompute(0, 2, pool);
  recompute(kept, fft_frames(), pool);
}

LogMel StreamingLogMel::mel(ThreadPool* pool) const {
  const auto n = static_cast<int64_t>(samples_.size());
  const int64_t n_len = (n + kWhisperPadSamples) / kMelHop;
  LogMel m;
  m.n_mel = filters_.n_mel;
  m.n_len = static_cast<int>(n_len);
  m.n_len_org = static_cast<int>(1 + (n + kMelFrameSize / 2 - kMelFrameSize) / kMelHop);
  const int64_t frames = fft_frames();
  const float silent = static_cast<float>(std::log10(1e-10));
  m.data.assign(static_cast<size_t>(m.n_mel * n_len), silent);
  for (int64_t i = 0; i < frames; ++i) {
    for (int j = 0; j < m.n_mel; ++j) {
      m.data[static_cast<size_t>(j * n_len + i)] = raw_[static_cast<size_t>(i * m.n_mel + j)];
    }
  }
  normalize(m, pool);
  return m;
}

}  // namespace omni::asr
