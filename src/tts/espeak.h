// Process-wide wrapper around libespeak-ng. espeak-ng keeps global state (current voice, text
// position, synthesis callback) and is not thread-safe, so every call goes through one object
// that holds a mutex for the whole operation. Callbacks run with that mutex held: they must not
// call back into Espeak.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace omni::tts {

// One clause as espeak_TextToPhonemes() returns it.
struct EspeakClause {
  std::string ipa;       // IPA phonemes (UTF-8), as espeak returned them
  std::string consumed;  // the input bytes this call consumed (includes one look-ahead char)
  char terminator = 0;   // '.', '?', '!', ',', ':', ';' or 0 when the clause has none of these
};

// Options for direct synthesis with espeak's own formant voices.
struct EspeakSynthOptions {
  std::string voice = "en-us";  // espeak voice name ("en-us", "ko", "en+f3", ...)
  int rate = 175;               // words per minute (espeak clamps to 80..450)
  int pitch = 50;               // 0..100
  int volume = 100;             // 0..200
};

// Called per synthesised chunk. `clause_end` is true when the chunk completes a clause (the
// samples so far form the whole clause). Return false to stop synthesis early.
using EspeakAudioCallback = std::function<bool(std::span<const int16_t> pcm, bool clause_end)>;

class Espeak {
 public:
  // The one instance; initialises the library on first use. Throws omni::Error when the
  // library or its data cannot be initialised.
  static Espeak& instance();

  // Splits text into clauses and phonemises each one in IPA with the given voice, exactly as
  // Piper's phonemizer drives espeak (espeak_TextToPhonemes, espeakCHARS_AUTO, IPA flag).
  // Throws omni::Error for an unknown voice.
  std::vector<EspeakClause> text_to_phonemes(std::string_view text, const std::string& voice);

  // Synthesises text with espeak's own voice as 16-bit mono PCM at sample_rate(), streaming
  // clause by clause through `on_audio`. Returns false if the callback stopped it early.
  bool synthesize(std::string_view text, const EspeakSynthOptions& options,
                  const EspeakAudioCallback& on_audio);

  int sample_rate() const { return sample_rate_; }

  Espeak(const Espeak&) = delete;
  Espeak& operator=(const Espeak&) = delete;

 private:
  Espeak();
  void set_voice_locked(const std::string& voice);

  std::mutex mutex_;
  int sample_rate_ = 0;
};

// espeak's int16 samples as floats in [-1, 1) (s / 32768).
std::vector<float> pcm_to_float(std::span<const int16_t> pcm);

// Recovers the clause terminator from the text one espeak_TextToPhonemes() call consumed.
// espeak reads one word-start character past a clause and re-reads it on the next call, so for
// a non-final clause the trailing non-space run is dropped first; the last remaining non-space
// character is then the terminator if it is one of . ? ! , : ; (0 otherwise).
char clause_terminator(std::string_view consumed, bool final_clause);

}  // namespace omni::tts
