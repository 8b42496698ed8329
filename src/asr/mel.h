// Whisper's log-mel spectrogram, equal to whisper.cpp's `log_mel_spectrogram` (bit for bit on
// x86-64 without FMA contraction; see mel_test.cc): reflect padding of 200 samples in front,
// zeros behind (plus the 30 s of zeros whisper.cpp appends), periodic Hann window of 400, hop
// 160, 400-point DFT (asr/fft.h), power spectrum, mel filters from the model file, log10 with a
// 1e-10 floor, then max-8 clamp and (v + 4) / 4 scaling.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/ggml_file.h"

namespace omni {
class ThreadPool;
}

namespace omni::asr {

inline constexpr int kMelFrameSize = 400;               // samples per frame (25 ms at 16 kHz)
inline constexpr int kMelHop = 160;                     // 10 ms
inline constexpr int kMelBins = kMelFrameSize / 2 + 1;  // 201 power-spectrum bins
inline constexpr int kWhisperPadSamples = 16000 * 30;   // the zeros whisper.cpp appends

// Mel filter bank [n_mel][n_fft] (n_fft = 201 power-spectrum bins), as stored in whisper ggml
// model files (80 bins; 128 for large-v3): ggml::File::mel_filters() is used as is.
using MelFilterBank = ggml::MelFilters;

// librosa.filters.mel(sr, n_fft, n_mels) with its defaults (Slaney mel scale, fmin 0, fmax
// sr/2, "slaney" area normalisation) -- the filters OpenAI Whisper ships, computed in double
// and rounded to float. For synthesising models; real models carry their own bank.
MelFilterBank slaney_mel_filters(int n_mel, int n_fft = kMelFrameSize, int sample_rate = 16000);

// [n_mel][n_len], row-major like whisper.cpp's whisper_mel (value of bin j at frame i at
// data[j * n_len + i]).
struct LogMel {
  int n_mel = 0;
  int n_len = 0;      // frames, including those covering the appended zeros
  int n_len_org = 0;  // frames covering real audio: 1 + (n + 200 - 400) / 160 (C division)
  std::vector<float> data;
  float at(int bin, int frame) const { return data[static_cast<size_t>(bin) * n_len + frame]; }
};

struct LogMelOptions {
  // Frames are spread over the pool's threads; nullptr: the calling thread only. The result is
  // the same for any thread count.
  ThreadPool* pool = nullptr;
  // Zeros appended after the audio before framing; n_len = (n_samples + pad_samples) / 160.
  int64_t pad_samples = kWhisperPadSamples;
  // false: stop after log10 (no max-8 clamp, no (v+4)/4) -- for tests and other consumers.
  bool normalize = true;
};

// 16 kHz mono samples -> log-mel. Non-finite samples count as 0. Clips shorter than 201 samples
// (too short for whisper.cpp's reflection, which would read past the end) are reflected as if
// zero-extended. Throws omni::Error if the filter bank is not n_mel x 201.
LogMel log_mel_spectrogram(std::span<const float> samples, const MelFilterBank& filters,
                           const LogMelOptions& options = {});

// The log-mel of a buffer that grows at the end and is trimmed at the front (streaming), with
// only the frames whose window changed recomputed: after append() only frames that saw the old
// end (whose windows read zeros there) and new ones, after drop_front() by whole 160-sample hops
// only the two frames reading the new start's reflection and the non-final tail. mel() equals
// log_mel_spectrogram(buffer) bit for bit (the max-8 clamp is global, so normalisation runs
// over the whole buffer on each call: cheap next to the FFTs).
class StreamingLogMel {
 public:
  // Throws omni::Error if the filter bank is not n_mel x 201.
  explicit StreamingLogMel(const MelFilterBank& filters);
  // Non-finite samples count as 0. pool: spread new frames over it (nullptr: calling thread).
  void append(std::span<const float> samples, ThreadPool* pool = nullptr);
  // Forgets the first n samples (n > size(): all).
  void drop_front(int64_t n, ThreadPool* pool = nullptr);
  int64_t size() const { return static_cast<int64_t>(samples_.size()); }
  // The normalised spectrogram of the current buffer with whisper.cpp's 30 s of padding.
  LogMel mel(ThreadPool* pool = nullptr) const;

 private:
  int64_t fft_frames() const;    // frames whose window touches audio (as log_mel_spectrogram)
  int64_t final_frames() const;  // leading frames later samples cannot change
  void recompute(int64_t begin, int64_t end, ThreadPool* pool);

  MelFilterBank filters_;
  std::vector<float> samples_;
  std::vector<float> raw_;  // [frame][n_mel] log10 values of frames [0, fft_frames())
};

}  // namespace omni::asr
