#include "llm/media_prompt.h"

#include <string>

#include "core/error.h"

namespace omni::llm {

std::vector<TokenId> find_pieces(const Vocab& vocab, std::span<const std::string> pieces) {
  // One scan over the vocabulary for all of them: byte tokens such as <0x0A> for "\n" are only
  // found by their piece, and a lower id with the same piece must win as in mtmd.
  std::vector<TokenId> out(pieces.size(), kNoToken);
  size_t missing = pieces.size();
  for (TokenId id = 0; missing > 0 && static_cast<size_t>(id) < vocab.n_tokens(); ++id) {
    const std::string p = vocab.token_to_piece(id, /*special=*/true);
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (out[i] == kNoToken && p == pieces[i]) {
        out[i] = id;
        --missing;
      }
    }
  }
  return out;
}

namespace {

void add_idefics3(const Vocab& vocab, const ImageEmbeddings& img, size_t index, Prompt& out) {
  const uint64_t n_tiles = uint64_t{img.grid_cols} * img.grid_rows;
  if (img.rows_per_tile == 0 || (img.grid_cols == 0) != (img.grid_rows == 0) ||
      img.n_rows() != (n_tiles + 1) * img.rows_per_tile) {
    throw Error("image " + std::to_string(index) + ": " + std::to_string(img.n_rows()) +
                " embedding rows do not make a " + std::to_string(img.grid_cols) + "x" +
                std::to_string(img.grid_rows) + " grid plus a global image of " +
                std::to_string(img.rows_per_tile) + " rows each");
  }
  // Pieces: 0 fake, 1 "\n", 2 "\n\n", 3 global, then one per tile.
  std::vector<std::string> pieces = {"<fake_token_around_image>", "\n", "\n\n", "<global-img>"};
  for (uint32_t r = 0; r < img.grid_rows; ++r) {
    for (uint32_t c = 0; c < img.grid_cols; ++c) {
      pieces.push_back("<row_" + std::to_string(r + 1) + "_col_" + std::to_string(c + 1) + ">");
    }
  }
  const auto ids = find_pieces(vocab, pieces);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == kNoToken) {
      const std::string shown = i == 1 ? "\\n" : i == 2 ? "\\n\\n" : pieces[i];
      throw Error("the vocabulary has no token \"" + shown + "\", which the idefics3 image layout needs");
    }
  }
  const TokenId fake = ids[0], newline = ids[1];
  const size_t tile_values = size_t{img.rows_per_tile} * img.n_embd;
  const std::span<const float> all(img.embd);
  for (uint32_t r = 0; r < img.grid_rows; ++r) {
    for (uint32_t c = 0; c < img.grid_cols; ++c) {
      const size_t tile = size_t{r} * img.grid_cols + c;
      const TokenId head[] = {fake, ids[4 + tile]};
      out.add_tokens(head);
      out.add_embeddings(all.subspan(tile * tile_values, tile_values), img.rows_per_tile);
    }
    if (r + 1 < img.grid_rows) out.add_tokens(std::span<const TokenId>(&newline, 1));
  }
  const TokenId global_head[] = {ids[2], fake, ids[3]};
  out.add_tokens(global_head);
  out.add_embeddings(all.subspan(n_tiles * tile_values, tile_values), img.rows_per_tile);
  out.add_tokens(std::span<const TokenId>(&fake, 1));
}

}  // namespace

Prompt build_media_prompt(const Vocab& vocab, std::string_view text,
                          std::span<const ImageEmbeddings> images, const MediaPromptOptions& opts) {
  if (opts.marker.empty()) throw Error("media prompt: the media marker is empty");
  Prompt out;
  if (opts.add_special && vocab.add_bos() && vocab.bos() != kNoToken) {
    const TokenId bos = vocab.bos();
    out.add_tokens(std::span<const TokenId>(&bos, 1));
  }
  size_t start = 0, n_markers = 0;
  while (start <= text.size()) {
    const size_t at = text.find(opts.marker, start);
    const std::string_view piece = text.substr(start, at == std::string_view::npos ? text.npos : at - start);
    if (!piece.empty()) out.add_tokens(vocab.tokenize(piece, /*add_special=*/false, opts.parse_special));
    if (at == std::string_view::npos) break;
    if (n_markers >= images.size()) {
      throw Error("media prompt: more media markers than the " + std::to_string(images.size()) +
                  " images given");
    }
    const ImageEmbeddings& img = images[n_markers];
    if (img.n_embd == 0 || img.embd.empty() || img.embd.size() % img.n_embd != 0) {
      throw Error("image " + std::to_string(n_markers) + ": " + std::to_string(img.embd.size()) +
                  " values are not rows of n_embd = " + std::to_string(img.n_embd));
    }
    if (opts.layout == ImageLayout::kIdefics3) {
      add_idefics3(vocab, img, n_markers, out);
    } else {
      out.add_embeddings(img.embd, img.n_rows());
    }
    ++n_markers;
    start = at + opts.marker.size();
  }
  if (n_markers != images.size()) {
    throw Error("media prompt: " + std::to_string(images.size()) + " images but " +
                std::to_string(n_markers) + " media markers in the text");
  }
  if (opts.add_special && vocab.add_eos() && vocab.eos() != kNoToken) {
    const TokenId eos = vocab.eos();
    out.add_tokens(std::span<const TokenId>(&eos, 1));
  }
  return out;
}

}  // namespace omni::llm
