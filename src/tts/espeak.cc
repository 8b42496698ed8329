#include "tts/espeak.h"

#include <espeak-ng/speak_lib.h>

#include <exception>

#include "core/error.h"

namespace omni::tts {
namespace {

struct SynthState {
  const EspeakAudioCallback* on_audio = nullptr;
  std::vector<int16_t> pending;  // samples of the current clause not yet delivered
  bool stopped = false;
  std::exception_ptr error;  // an exception from on_audio, rethrown after espeak returns
};

// Exceptions must not unwind through espeak's C frames.
bool deliver(SynthState& state) {
  bool go_on = false;
  try {
    go_on = (*state.on_audio)(state.pending, true);
  } catch (...) {
    state.error = std::current_exception();
  }
  state.pending.clear();
  if (!go_on) state.stopped = true;
  return go_on;
}

// The synthesis in progress. Guarded by Espeak::mutex_ (set and cleared inside synthesize()):
// not every callback carries an event with our user_data, so it cannot come from there.
SynthState* g_state = nullptr;

// espeak calls this from inside espeak_Synth (synchronous mode), on the calling thread.
int synth_callback(short* wav, int num_samples, espeak_EVENT* events) {
  SynthState* state = g_state;
  bool clause_end = false;
  for (espeak_EVENT* e = events; e && e->type != espeakEVENT_LIST_TERMINATED; ++e) {
    if (e->type == espeakEVENT_END || e->type == espeakEVENT_MSG_TERMINATED) clause_end = true;
  }
  if (!state) return 0;
  if (state->stopped) return 1;
  if (wav && num_samples > 0) state->pending.insert(state->pending.end(), wav, wav + num_samples);
  // Deliver whole clauses; the final call (wav == NULL) flushes whatever is left.
  if ((clause_end || !wav) && !state->pending.empty()) {
    if (!deliver(*state)) return 1;
  }
  return 0;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::vector<float> pcm_to_float(std::span<const int16_t> pcm) {
  std::vector<float> out(pcm.size());
  for (size_t i = 0; i < pcm.size(); ++i) out[i] = float(pcm[i]) / 32768.f;
  return out;
}

char clause_terminator(std::string_view consumed, bool final_clause) {
  size_t end = consumed.size();
  if (!final_clause) {
    // Drop the look-ahead word start espeak read past the clause.
    while (end > 0 && !is_space(consumed[end - 1])) --end;
  }
  while (end > 0 && is_space(consumed[end - 1])) --end;
  if (end == 0) return 0;
  const char c = consumed[end - 1];
  switch (c) {
    case '.': case '?': case '!': case ',': case ':': case ';':
      return c;
    default:
      return 0;
  }
}

Espeak& Espeak::instance() {
  static Espeak espeak;
  return espeak;
}

Espeak::Espeak() {
  // Synchronous mode serves both phonemisation and synthesis (audio comes through the
  // callback before espeak_Synth returns). DONT_EXIT: never let the library call exit().
  const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr,
                                     espeakINITIALIZE_DONT_EXIT);
  if (rate <= 0) throw Error("espeak-ng: initialisation failed (is espeak-ng-data installed?)");
  sample_rate_ = rate;
  espeak_SetSynthCallback(synth_callback);
}

void Espeak::set_voice_locked(const std::string& voice) {
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) {
    throw Error("espeak-ng: unknown voice '" + voice + "'");
  }
}

std::vector<EspeakClause> Espeak::text_to_phonemes(std::string_view text,
                                                   const std::string& voice) {
  std::lock_guard lock(mutex_);
  set_voice_locked(voice);
  const std::string copy(text);  // NUL-terminated; espeak only reads it
  const char* ptr = copy.c_str();
  std::vector<EspeakClause> clauses;
  while (ptr != nullptr) {
    const char* before = ptr;
    const char* ipa = espeak_TextToPhonemes(reinterpret_cast<const void**>(&ptr),
                                            espeakCHARS_AUTO, espeakPHONEMES_IPA);
    EspeakClause clause;
    clause.ipa = ipa ? ipa : "";
    const char* after = ptr ? ptr : copy.c_str() + copy.size();
    if (after < before) after = before;  // defensive: espeak never moves backwards
    clause.consumed.assign(before, after);
    clause.terminator = clause_terminator(clause.consumed, ptr == nullptr);
    clauses.push_back(std::move(clause));
  }
  return clauses;
}

bool Espeak::synthesize(std::string_view text, const EspeakSynthOptions& options,
                        const EspeakAudioCallback& on_audio) {
  std::lock_guard lock(mutex_);
  set_voice_locked(options.voice);
  espeak_SetParameter(espeakRATE, options.rate, 0);
  espeak_SetParameter(espeakPITCH, options.pitch, 0);
  espeak_SetParameter(espeakVOLUME, options.volume, 0);
  const std::string copy(text);
  SynthState state;
  state.on_audio = &on_audio;
  g_state = &state;
  const espeak_ERROR err = espeak_Synth(copy.c_str(), copy.size() + 1, 0, POS_CHARACTER, 0,
                                        espeakCHARS_UTF8, nullptr, &state);
  g_state = nullptr;
  if (state.error) std::rethrow_exception(state.error);
  if (err != EE_OK && !state.stopped) {
    throw Error("espeak-ng: synthesis failed (error " + std::to_string(int(err)) + ")");
  }
  if (!state.stopped && !state.pending.empty()) deliver(state);
  if (state.error) std::rethrow_exception(state.error);
  return !state.stopped;
}

}  // namespace omni::tts
