// Word error rate with the normalisation of the reference transcripts (refdata
// asr/audio/transcripts.json): lowercase; every character outside [a-z0-9 '] becomes a space;
// whitespace collapsed. Numbers are not spelled out ("10" and "ten" differ).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace omni::asr {

std::string normalize_transcript(std::string_view text);

struct WerResult {
  size_t substitutions = 0, deletions = 0, insertions = 0;
  size_t reference_words = 0;
  size_t errors() const { return substitutions + deletions + insertions; }
  // errors / reference words; an empty reference gives 0 (empty hypothesis) or 1 (anything else).
  double rate() const {
    return reference_words ? double(errors()) / double(reference_words) : (errors() ? 1.0 : 0.0);
  }
};

// Levenshtein alignment over normalised words.
WerResult word_error_rate(std::string_view reference, std::string_view hypothesis);

}  // namespace omni::asr
