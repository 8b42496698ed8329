// omni tokenize -m MODEL [--no-bos] [--parse-special] [--json] [--pieces] [--] TEXT
//
// Prints the token ids of TEXT under MODEL's vocabulary. By default the model's BOS/EOS are
// added as its metadata asks and special-token texts are treated as plain text (like
// llama-tokenize with --no-parse-special). Output: `{"tokens":[...]}` with --json, otherwise the
// ids separated by spaces; --pieces adds each token's text.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "cli/command.h"
#include "core/gguf.h"
#include "llm/unicode.h"
#include "llm/vocab.h"

namespace omni::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool no_bos = false;
  bool parse_special = false;
  bool json = false;
  bool pieces = false;
};

void run_tokenize(const TokenizeOptions& o) {
  const auto file = gguf::File::open(o.model);
  const auto vocab = llm::Vocab::from_gguf(file);
  const auto ids = vocab.tokenize(o.text, !o.no_bos, o.parse_special);
  std::string out;
  if (o.json) {
    nlohmann::json j;
    j["tokens"] = ids;
    if (o.pieces) {
      auto arr = nlohmann::json::array();
      for (auto id : ids) {
        const std::string p = vocab.token_to_piece(id, true);
        // JSON strings must be UTF-8: pieces that split a character are given as null.
        arr.push_back(llm::unicode::is_valid_utf8(p) ? nlohmann::json(p) : nlohmann::json());
      }
      j["pieces"] = arr;
    }
    out = j.dump() + "\n";
  } else {
    for (size_t i = 0; i < ids.size(); ++i) {
      out += (i ? " " : "") + std::to_string(ids[i]);
      if (o.pieces) out += " '" + vocab.token_to_piece(ids[i], true) + "'";
    }
    out += "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

const RegisterCommand reg([](CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text under a GGUF vocabulary");
  cmd->add_option("-m,--model", opts->model, "GGUF model (or vocab-only GGUF)")->required();
  cmd->add_flag("--no-bos", opts->no_bos, "Do not add the BOS/EOS tokens the model asks for");
  cmd->add_flag("--parse-special", opts->parse_special,
                "Turn special-token texts (e.g. <|im_start|>) into those tokens");
  cmd->add_flag("--json", opts->json, "Print {\"tokens\":[...]}");
  cmd->add_flag("--pieces", opts->pieces, "Also print each token's text");
  cmd->add_option("text", opts->text, "Text to tokenize (use -- before text starting with -)")
      ->required();
  cmd->callback([opts] { run_tokenize(*opts); });
});

}  // namespace
}  // namespace omni::cli
