#include "pipeline/local_whisper.h"

#include <filesystem>

#include "pipeline/text_util.h"

namespace omni::pipeline {

WhisperStt::WhisperStt(const std::string& model_path, int threads)
    : name_("whisper:" + std::filesystem::path(model_path).filename().string()),
      transcriber_(model_path, threads) {}

SttResult WhisperStt::transcribe(const asr::Audio& audio, const SttOptions& options,
                                 const CancelToken& cancel, const OnPartial& on_partial) {
  SttResult r;
  r.audio_seconds = audio.seconds();
  r.language = options.language;
  if (cancel.cancelled()) {
    r.cancelled = true;
    return r;
  }
  asr::TranscribeOptions o;
  o.language = options.language.empty() ? "en" : options.language;
  o.translate = options.translate;
  const asr::Transcript t = transcriber_.transcribe(audio, o);
  r.text = trim(t.text);
  r.cancelled = cancel.cancelled();
  if (on_partial && !r.cancelled) on_partial({r.text, r.text.size(), r.audio_seconds});
  return r;
}

}  // namespace omni::pipeline
