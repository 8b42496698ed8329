// Builds the LLM input of a multimodal prompt: the text is split at each media marker, text
// pieces are tokenized, and each marker is replaced by that image's embeddings wrapped in the
// tokens its model family was trained with (as llama.cpp's mtmd lays them out):
//
//   kPlain (LLaVA-1.5, projector `mlp`): the embedding rows stand where the marker stood.
//   kIdefics3 (SmolVLM / Idefics3): for each tile, row-major,
//     <fake_token_around_image><row_R_col_C> + the tile's rows, "\n" after every row of tiles but
//     the last; then "\n\n" <fake_token_around_image><global-img> + the global image's rows +
//     <fake_token_around_image>.
//
// Tokenization follows mtmd_tokenize: every text piece separately, without BOS/EOS
// (so with a SentencePiece vocabulary a piece after an image starts with its own "▁"), then one
// BOS in front of everything and one EOS at the end when `add_special` and the vocabulary asks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/prompt.h"
#include "llm/vocab.h"

namespace omni::llm {

// mtmd's default media marker.
inline constexpr std::string_view kMediaMarker = "<__media__>";

enum class ImageLayout { kPlain, kIdefics3 };

// One image's projector output, rows in LLM order.
struct ImageEmbeddings {
  std::vector<float> embd;  // n_rows x n_embd
  uint32_t n_embd = 0;
  // kIdefics3: grid_cols x grid_rows tiles (row-major) and then the global image, each
  // rows_per_tile rows. A grid of 0 x 0 means the global image alone. Unused for kPlain.
  uint32_t grid_cols = 0, grid_rows = 0, rows_per_tile = 0;

  uint32_t n_rows() const { return n_embd ? static_cast<uint32_t>(embd.size() / n_embd) : 0; }
};

struct MediaPromptOptions {
  ImageLayout layout = ImageLayout::kPlain;
  std::string_view marker = kMediaMarker;
  bool add_special = true;    // BOS/EOS as the vocabulary asks
  bool parse_special = true;  // control-token texts in `text` become those tokens
};

// Throws omni::Error when the number of markers differs from images.size(), an image's
// embeddings do not match its declared layout, or the vocabulary lacks a layout token.
Prompt build_media_prompt(const Vocab& vocab, std::string_view text,
                          std::span<const ImageEmbeddings> images, const MediaPromptOptions& opts);

// For each of `pieces`, the lowest id whose piece (token_to_piece with specials rendered) is
// exactly that text, as mtmd looks up its layout tokens; kNoToken when none.
std::vector<TokenId> find_pieces(const Vocab& vocab, std::span<const std::string> pieces);

}  // namespace omni::llm
