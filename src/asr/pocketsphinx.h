// CMU PocketSphinx (Debian libpocketsphinx-dev + pocketsphinx-en-us): the speech recognizer that
// needs no model download. Much less accurate than Whisper (see docs/TESTING.md, "ASR accuracy"),
// but always present, small and fast, and incremental by nature: audio is decoded as it is fed,
// so partial hypotheses cost nothing extra.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "asr/audio.h"

namespace omni::asr {

struct PocketsphinxOptions {
  // Empty: the Debian package's US English model (acoustic model folder, dictionary, LM).
  std::string hmm_dir, dict_path, lm_path;
  // A JSGF grammar file (replaces the language model): only the sentences it allows are
  // recognised, e.g. a command set or digit strings. Closed vocabularies are where this
  // recogniser is accurate (docs/TESTING.md, "Round trip"). Every word must be in the dictionary.
  std::string jsgf_path;
};

// The default model folder, or "" when the package is not installed.
std::string pocketsphinx_default_model_dir();

struct PocketsphinxWord {
  std::string word;
  double t0 = 0, t1 = 0;  // seconds from the start of the utterance
};

struct PocketsphinxResult {
  std::string text;  // recognised words separated by single spaces
  std::vector<PocketsphinxWord> words;
};

// One decoder. Not reentrant: calls on one object are serialised by an internal mutex, so a
// shared recognizer is safe but serves one utterance at a time; use one object per stream.
class Pocketsphinx {
 public:
  // Throws omni::Error naming the missing file when the model cannot be loaded.
  explicit Pocketsphinx(const PocketsphinxOptions& options = {});
  ~Pocketsphinx();
  Pocketsphinx(const Pocketsphinx&) = delete;
  Pocketsphinx& operator=(const Pocketsphinx&) = delete;

  // Whole utterance, any rate / channel count (resampled to 16 kHz mono), normalised over the
  // whole utterance: more accurate than the incremental path below.
  PocketsphinxResult recognize(const Audio& audio);

  // Incremental use: begin(), feed() 16 kHz mono floats (each returns the current best
  // hypothesis), end() for the final result. Live normalisation adapts per block and carries over
  // from one utterance to the next (speaker adaptation), so the words can depend on block sizes
  // and history, and are less accurate than recognize() on the same audio.
  void begin();
  std::string feed(std::span<const float> samples_16k);
  PocketsphinxResult end();

 private:
  void process(std::span<const float> samples_16k);
  std::string hypothesis();
  PocketsphinxResult collect();

  struct Handles;
  std::unique_ptr<Handles> h_;
  std::mutex mu_;
  bool in_utt_ = false;
  std::vector<int16_t> pcm_;  // conversion scratch
};

}  // namespace omni::asr
