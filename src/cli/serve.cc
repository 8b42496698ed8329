// omni serve -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key KEY] [-c/--ctx-size N] [-t THREADS]
//            [--parallel N] [--queue N] [--cors ORIGIN] [--max-body BYTES] [--timeout SECONDS]
//            [--asr-model WHISPER.bin] [--voice-dir DIR] [--voice FILE.onnx|ESPEAK] [--no-web-ui]
//            [--mmproj FILE] [--image-mode auto|embed|caption|ocr] [--ocr-languages eng+kor]
//            [--allow-image-urls] [--image-url-max-bytes N] [--image-url-timeout S]
//            [--write-timeout S]
//   OpenAI-compatible HTTP server (see server/server.h) with the browser UI at /.
//   SIGINT/SIGTERM stop accepting and finish in-flight requests before exiting.
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include "cli/command.h"
#include "server/server.h"

namespace omni::cli {
namespace {

void run_serve(const server::ServerOptions& opts) {
  // Block the stop signals in every thread (the server's threads inherit the mask), then wait
  // for them on one thread that calls stop(): no work inside a signal handler.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  server::Server srv(opts);
  const int port = srv.bind();
  std::fprintf(stderr, "omni serve: model '%s' on http://%s:%d (%d slot%s)%s\n",
               srv.model_id().c_str(), opts.host.c_str(), port, opts.parallel,
               opts.parallel == 1 ? "" : "s", opts.web_ui ? ", web UI at /" : "");
  std::thread waiter([&srv, set] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGINT || sig == SIGTERM) {
      std::fprintf(stderr, "omni serve: stopping (finishing in-flight requests)\n");
    }
    srv.stop();
  });
  srv.run();
  // run() also ends when listening fails; wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
}

RegisterCommand reg([](CLI::App& app) {
  auto opts = std::make_shared<server::ServerOptions>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server for a model");
  cmd->add_option("-m,--model", opts->model_path, "GGUF model file")->required();
  cmd->add_option("--host", opts->host, "address to bind (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", opts->port, "port (default 8080; 0 picks a free one)");
  cmd->add_option("--api-key", opts->api_key, "require `Authorization: Bearer KEY` on /v1/*");
  cmd->add_option("-c,--ctx-size,--ctx", opts->n_ctx, "context size per slot (default: the model's, at most 4096)");
  cmd->add_option("-t,--threads", opts->threads, "compute threads (default: all cores)");
  cmd->add_option("--parallel", opts->parallel, "requests generated at once (slots, default 1)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--queue", opts->max_queue, "requests that may wait for a slot (default 16)")
      ->check(CLI::Range(0, 4096));
  cmd->add_option("--cors", opts->cors_origin, "allowed CORS origin (default: CORS off)");
  cmd->add_option("--max-body", opts->max_body, "largest request body in bytes (default 25 MiB)");
  cmd->add_option("--timeout", opts->request_timeout_s, "per-request time limit in seconds (default 600)")
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--http-threads", opts->http_threads,
                  "connection threads (default: parallel + queue + 4)")->check(CLI::Range(1, 1024));
  cmd->add_option("--asr-model", opts->asr_model_path,
                  "whisper ggml model for /v1/audio/transcriptions and audio input");
  cmd->add_option("--voice-dir", opts->voice_dir,
                  "folder of Piper voices (NAME.onnx + NAME.onnx.json), offered by NAME");
  cmd->add_option("--voice", opts->voice,
                  "default voice: a Piper .onnx file (also used for OpenAI voice names) or an "
                  "espeak-ng voice (default: espeak-ng en-us)");
  cmd->add_flag("!--no-web-ui", opts->web_ui, "do not serve the browser UI at /");
  cmd->add_option("--mmproj", opts->mmproj_path,
                  "the model's image projector (mmproj GGUF): image_url parts go in as embeddings");
  cmd->add_option("--image-mode", opts->image_mode,
                  "default for image_url parts: embed (needs --mmproj), caption (the model with "
                  "--mmproj describes the image in words), ocr, auto (embed when --mmproj fits "
                  "the model, else ocr; default); a request may set \"image_mode\"")
      ->check(CLI::IsMember({"auto", "embed", "caption", "ocr"}));
  cmd->add_option("--caption-tokens", opts->caption_max_tokens,
                  "image_mode caption: longest caption in tokens (default 128)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ocr-languages", opts->ocr_languages,
                  "Tesseract languages for image words, e.g. eng+kor (default eng+kor; empty: no OCR)");
  cmd->add_flag("--allow-image-urls", opts->allow_image_urls,
                "download http(s) URLs in image_url parts (default: data: URLs only)");
  cmd->add_option("--image-url-max-bytes", opts->image_url_max_bytes,
                  "largest image downloaded for an image_url (default 20 MiB)");
  cmd->add_option("--image-url-timeout", opts->image_url_timeout_s,
                  "time limit in seconds for downloading an image_url (default 10)")
      ->check(CLI::Range(1, 600));
  cmd->add_option("--write-timeout", opts->write_timeout_s,
                  "seconds a response write may stall (a client not reading) before the request "
                  "is dropped and its slot freed (default 30)")->check(CLI::Range(1, 3600));
  cmd->callback([opts] { run_serve(*opts); });
});

}  // namespace
}  // namespace omni::cli
