// omni chat -m MODEL [--system TEXT] [-n N] [--temp T] [--seed S] [-t THREADS]
//           [--asr-model WHISPER] [--voice espeak:en|espeak:ko|FILE.onnx] [--say-out FILE.wav]
// An interactive conversation: the model's chat template, streamed replies, the KV cache kept
// between turns. Commands: /reset (forget the conversation), /exit (or end of input),
// /audio PATH (say something from an audio file; needs --asr-model), /say on|off (speak the
// replies: each one is written to --say-out), /image PATH (ask about an image).
// Models without a chat template continue the text you type (a story model tells a story).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <random>
#include <string>

#include "asr/audio_io.h"
#include "cli/command.h"
#include "cli/pipeline_setup.h"
#include "core/error.h"
#include "pipeline/local_tts.h"
#include "pipeline/local_whisper.h"
#include "pipeline/text_util.h"

namespace omni::cli {
namespace {

struct ChatFlags {
  PipelineFlags p;
  std::string say_out = "omni-reply.wav";
  bool say = false;
};

void run_chat(ChatFlags& f) {
  if (f.p.seed < 0) f.p.seed = static_cast<int64_t>(std::random_device{}());
  LocalPipeline lp = load_pipeline(f.p, false, false, false);
  auto conv = lp.llm->start_conversation(f.p.system);
  const auto* local = dynamic_cast<pipeline::LocalConversation*>(conv.get());
  const pipeline::TurnOptions opt = turn_options(f.p);
  const bool tty = isatty(fileno(stdin));
  std::fprintf(stderr,
               "omni chat: %s (%s%s). /reset clears the conversation, /audio PATH speaks from a "
               "file, /image PATH [question] reads an image's text, /say on|off, /exit quits.\n",
               f.p.llm.c_str(), lp.llm->model()->config().arch.c_str(),
               local && local->has_template() ? ", chat template"
                                              : ", no chat template: text continuation");
  std::string line;
  for (;;) {
    if (tty) std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    line = pipeline::trim(line);
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      conv->reset();
      std::puts("(conversation cleared)");
      continue;
    }
    if (line.empty()) continue;
    try {
      pipeline::TurnInput in;
      if (line.starts_with("/say")) {
        const std::string arg = pipeline::trim(line.substr(4));
        if (arg != "on" && arg != "off") throw Error("usage: /say on|off");
        f.say = arg == "on";
        if (f.say && !lp.tts) lp.tts = pipeline::make_tts(f.p.voice == "espeak:en" && f.p.language != "en"
                                                              ? "espeak:" + f.p.language
                                                              : f.p.voice);
        std::printf("(speech %s%s)\n", f.say ? "on: replies are written to " : "off",
                    f.say ? f.say_out.c_str() : "");
        continue;
      }
      if (line.starts_with("/image")) {
        // "/image PATH [question]": the image's words (OCR) go into the prompt with the question.
        std::string rest = pipeline::trim(line.substr(6));
        if (rest.empty()) throw Error("usage: /image PATH [question]");
        const auto sp = rest.find(' ');
        const std::string path = rest.substr(0, sp);
        in.image = pipeline::ImageInput::from_file(path);
        in.text = sp == std::string::npos ? "What does this image say?" : pipeline::trim(rest.substr(sp));
        if (!lp.image_reader) lp.image_reader = make_image_reader(f.p);
      } else if (line.starts_with("/audio")) {
        const std::string path = pipeline::trim(line.substr(6));
        if (path.empty()) throw Error("usage: /audio PATH");
        if (!lp.stt) lp.stt = make_stt(f.p);
        in.audio = asr::load_audio_file(path);
      } else if (line.starts_with("/")) {
        throw Error("unknown command " + line + " (/reset /audio /say /image /exit)");
      } else {
        in.text = line;
      }
      pipeline::Stages st = lp.stages();
      if (!f.say) st.tts = nullptr;
      pipeline::TurnCallbacks cb;
      cb.on_transcript = [](const std::string& t) { std::printf("(heard: %s)\n", t.c_str()); };
      cb.on_text = [](std::string_view t) {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
        return true;
      };
      pipeline::Trace trace;
      const auto r = pipeline::run_turn(st, *conv, in, opt, pipeline::CancelToken(), trace, cb);
      std::fputs("\n", stdout);
      const auto& s = trace.summary;
      std::fprintf(stderr, "[%d tokens; prompt %d new + %d cached tokens", s.generated_tokens,
                   s.prompt_tokens, s.reused_tokens);
      if (st.tts && !r.audio.empty()) {
        write_answer_wav(f.say_out, r.audio, r.sample_rate);
        std::fprintf(stderr, "; spoke %.1f s to %s, first audio %.0f ms after input", s.output_audio_s,
                     f.say_out.c_str(), s.voice_to_voice_ms);
      }
      std::fprintf(stderr, "]\n");
    } catch (const Error& e) {
      // One bad turn (e.g. the context is full) does not end the session.
      std::fprintf(stderr, "omni: error: %s\n", e.what());
    }
  }
}

const RegisterCommand reg([](CLI::App& app) {
  auto f = std::make_shared<ChatFlags>();
  f->p.max_tokens = 512;
  f->p.temp = 0.7f;
  f->p.seed = -1;
  auto* cmd = app.add_subcommand("chat", "Interactive chat with a GGUF language model");
  add_pipeline_flags(cmd, f->p);
  cmd->add_option("--say-out", f->say_out, "where /say on writes each spoken reply (WAV)");
  cmd->callback([f] {
    apply_config(f->p);
    run_chat(*f);
  });
});

}  // namespace
}  // namespace omni::cli
