// The embeddings path end to end (image file -> mmproj encoder -> spliced into a conversation),
// against llama.cpp/mtmd's goldens in ../shared/refdata/vision: the conversation must produce
// exactly the tokens of a direct spliced-prompt greedy run with the same layout, and for the
// golden's own prompt layout the golden's greedy tokens.
#include "pipeline/local_image_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/gguf.h"
#include "llm/generate.h"
#include "llm/media_prompt.h"
#include "pipeline/local_caption.h"
#include "pipeline/local_llm.h"
#include "pipeline/turn.h"
#include "testing/refdata.h"

namespace omni::pipeline {
namespace {

const std::string kLlavaProj = "vision/models/mmproj-tiny-llava15-rand-f32.gguf";
const std::string kSmolProj = "vision/models/mmproj-tiny-smolvlm-rand-f32.gguf";
const std::string kLlavaLlm = "llm/models/tiny-llama-rand-f32.gguf";
const std::string kSmolLlm = "vision/models/tiny-smolvlm-text-rand-f32.gguf";

nlohmann::json golden(const std::string& name) {
  std::ifstream f(testing::refdata("vision/golden/" + name + "/golden.json"));
  return nlohmann::json::parse(f);
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

// Greedy tokens and text of a direct spliced prompt, the reference for the conversation path.
llm::GenerateResult direct(const std::shared_ptr<const llm::Model>& m, const std::string& text,
                           const ImageEmbeddings& e, int max_tokens) {
  llm::ImageEmbeddings ie;
  ie.embd = e.data;
  ie.n_embd = static_cast<uint32_t>(e.n_embd);
  ie.grid_cols = static_cast<uint32_t>(e.grid_cols);
  ie.grid_rows = static_cast<uint32_t>(e.grid_rows);
  ie.rows_per_tile = static_cast<uint32_t>(e.tokens_per_tile);
  llm::MediaPromptOptions o;
  o.layout = e.projector == "idefics3" ? llm::ImageLayout::kIdefics3 : llm::ImageLayout::kPlain;
  o.parse_special = false;  // as a template-less conversation tokenizes
  const llm::Prompt p = llm::build_media_prompt(m->vocab(), text, std::span(&ie, 1), o);
  llm::Context ctx(m, {.n_ctx = 512});
  llm::GenerateOptions g;
  g.max_tokens = max_tokens;
  g.sampling.temperature = 0;
  g.sampling.min_p = 0;
  return llm::generate(ctx, p, g);
}

TEST(ClipImageEncoder, EncodesAFileAsTheGoldenAndReportsTheLayout) {
  ClipImageEncoder enc(testing::refdata(kSmolProj));
  EXPECT_EQ(enc.n_embd_out(), 64);
  const ImageEmbeddings e =
      enc.encode(ImageInput::from_file(testing::refdata("vision/images/horse.png")), CancelToken());
  const auto want = testing::read_f32(testing::refdata("vision/golden/smolvlm-horse/embd.f32"));
  ASSERT_EQ(e.data.size(), want.size());
  double max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, std::fabs(double{e.data[i]} - want[i]));
  EXPECT_LE(max_diff, 5e-4);
  EXPECT_EQ(e.projector, "idefics3");
  EXPECT_EQ(e.grid_cols, 4);
  EXPECT_EQ(e.grid_rows, 4);
  EXPECT_EQ(e.tokens_per_tile, 4);
  EXPECT_EQ(e.n_tokens, 68);

  CancelToken cancelled;
  cancelled.cancel();
  EXPECT_TRUE(enc.encode(ImageInput::from_file(testing::refdata("vision/images/horse.png")), cancelled).cancelled);
  ImageInput junk;
  junk.bytes = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};
  junk.source = "junk.bin";
  EXPECT_THROW(enc.encode(junk, CancelToken()), FormatError);
}

TEST(ImageMode, AutoEmbedsOnlyWithAMatchingProjector) {
  EXPECT_EQ(resolve_image_mode(ImageMode::kAuto, 64, 64), ImageMode::kEmbed);
  EXPECT_EQ(resolve_image_mode(ImageMode::kAuto, 0, 64), ImageMode::kOcr);
  EXPECT_EQ(resolve_image_mode(ImageMode::kAuto, 1024, 64), ImageMode::kOcr);
  EXPECT_EQ(resolve_image_mode(ImageMode::kOcr, 0, 64), ImageMode::kOcr);
  EXPECT_EQ(resolve_image_mode(ImageMode::kCaption, 64, 64), ImageMode::kCaption);
  EXPECT_THROW(resolve_image_mode(ImageMode::kEmbed, 0, 64), Error);
  EXPECT_THROW(resolve_image_mode(ImageMode::kCaption, 0, 64), Error);
  try {
    resolve_image_mode(ImageMode::kEmbed, 1024, 64);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1024"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_image_mode("embed"), ImageMode::kEmbed);
  EXPECT_THROW(parse_image_mode("pixels"), Error);
}

TEST(ImageConversation, GoldenLayoutGivesTheGoldenGreedyTokensAndReusesTheCache) {
  // The LLaVA golden's prompt, as a user message of parts: text, image, text.
  const auto g = golden("llava15-rocket");
  ImageEmbeddings e;
  e.data = testing::read_f32(testing::refdata("vision/golden/llava15-rocket/embd.f32"));
  e.n_embd = 64;
  e.n_tokens = 256;
  e.projector = "mlp";
  auto model = llm::Model::load(testing::refdata(kLlavaLlm));
  LocalConversation conv(model, "tiny", {.n_ctx = 512}, "");
  UserMessage m;
  m.parts.push_back(MessagePart{"USER: ", nullptr, nullptr});
  m.parts.push_back(MessagePart{"", nullptr, std::make_shared<const ImageEmbeddings>(e)});
  m.parts.push_back(MessagePart{"\nWhat is shown in this image? ASSISTANT:", nullptr, nullptr});
  conv.add_user(m);
  GenOptions o;
  o.max_tokens = 16;
  const Reply r = conv.generate(o, CancelToken());
  EXPECT_EQ(r.stats.prompt_tokens, g["n_positions"].get<int>());
  EXPECT_EQ(r.stats.generated_tokens, 16);
  const auto d = direct(model, "USER: <__media__>\nWhat is shown in this image? ASSISTANT:", e, 16);
  EXPECT_EQ(d.tokens, g["greedy"]["tokens"].get<std::vector<int32_t>>());
  EXPECT_EQ(r.text, d.text);
  EXPECT_EQ(r.text, unhex(g["greedy"]["text_hex"].get<std::string>()));

  // Next turn: only the new text is evaluated; the image stays in the cache.
  conv.add_user(UserMessage::text_only(" USER: And?"));
  o.max_tokens = 2;
  const Reply r2 = conv.generate(o, CancelToken());
  EXPECT_GE(r2.stats.reused_tokens, g["n_positions"].get<int>());
  EXPECT_LT(r2.stats.prompt_tokens, 12);
  EXPECT_EQ(conv.prefill("more", CancelToken()), 0);  // no token prefill with images

  conv.reset();
  EXPECT_EQ(conv.messages().size(), 0u);
}

TEST(ImageConversation, ChatTemplateIsRenderedWithTheImageMarkerAndSpliced) {
  // The tiny SmolVLM text model with a SmolVLM-style chat template written in: the conversation
  // renders the model's own template (roles, end-of-utterance tokens parsed as specials) with the
  // image marker where the image part stands, and splices the tiles there.
  const gguf::File f = gguf::File::open(testing::refdata(kSmolLlm));
  gguf::Writer w(f.version());
  for (const auto& kv : f.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.bytes());
  w.set("tokenizer.chat_template",
        gguf::make_string("{% for m in messages %}<|im_start|>{{ m['role'] }}:"
                          "{{ m['content'] }}<end_of_utterance>\n{% endfor %}"
                          "{% if add_generation_prompt %}Assistant:{% endif %}"));
  const auto path = (std::filesystem::temp_directory_path() / "omni_vlm_template_conv.gguf").string();
  w.write(path);
  auto model = llm::Model::load(path);
  std::filesystem::remove(path);

  ClipImageEncoder enc(testing::refdata(kSmolProj));
  const ImageInput img = ImageInput::from_file(testing::refdata("vision/images/horse.png"));
  auto e = std::make_shared<const ImageEmbeddings>(enc.encode(img, CancelToken()));
  LocalConversation conv(model, "tiny-smol", {.n_ctx = 512}, "");
  ASSERT_TRUE(conv.has_template());
  UserMessage m;
  m.parts.push_back(MessagePart{"", std::make_shared<const ImageInput>(img), e});
  m.parts.push_back(MessagePart{"\nWhat is it?", nullptr, nullptr});
  conv.add_user(m);
  GenOptions o;
  o.max_tokens = 6;
  const Reply r = conv.generate(o, CancelToken());

  llm::ImageEmbeddings ie;
  ie.embd = e->data;
  ie.n_embd = static_cast<uint32_t>(e->n_embd);
  ie.grid_cols = static_cast<uint32_t>(e->grid_cols);
  ie.grid_rows = static_cast<uint32_t>(e->grid_rows);
  ie.rows_per_tile = static_cast<uint32_t>(e->tokens_per_tile);
  llm::MediaPromptOptions mo;
  mo.layout = llm::ImageLayout::kIdefics3;
  const llm::Prompt p = llm::build_media_prompt(
      model->vocab(), "<|im_start|>user:<__media__>\nWhat is it?<end_of_utterance>\nAssistant:",
      std::span(&ie, 1), mo);
  // The template's control texts are single tokens in the prompt, not their characters.
  const auto eou = model->vocab().tokenize("<end_of_utterance>", false, true);
  ASSERT_EQ(eou.size(), 1u);
  llm::Context ctx(model, {.n_ctx = 512});
  llm::GenerateOptions g;
  g.max_tokens = 6;
  g.sampling.temperature = 0;
  g.sampling.min_p = 0;
  const auto want = llm::generate(ctx, p, g);
  EXPECT_EQ(r.stats.prompt_tokens, static_cast<int>(p.size()));
  EXPECT_EQ(r.stats.generated_tokens, 6);
  EXPECT_EQ(r.text, want.text);
  EXPECT_EQ(conv.messages().size(), 2u);  // user + assistant, rendered again next turn

  // Next turn: the template renders both turns; the image's rows come from the cache (all of
  // turn 1 but the generation prompt "\nAssistant:", which the template re-renders as the
  // assistant message's own opening).
  conv.add_user(UserMessage::text_only("And?"));
  o.max_tokens = 2;
  const Reply r2 = conv.generate(o, CancelToken());
  EXPECT_GE(r2.stats.reused_tokens, static_cast<int>(p.size()) - 4);
  EXPECT_LT(r2.stats.prompt_tokens, 30);
}

TEST(ImageConversation, BadImagePartsAreClearErrors) {
  auto model = llm::Model::load(testing::refdata(kLlavaLlm));
  LocalConversation conv(model, "tiny", {.n_ctx = 512}, "");
  UserMessage no_embd;
  no_embd.parts.push_back(MessagePart{"", std::make_shared<const ImageInput>(), nullptr});
  EXPECT_THROW(conv.add_user(no_embd), Error);
  ImageEmbeddings wide;
  wide.n_embd = 128;
  wide.n_tokens = 2;
  wide.data.assign(256, 0.f);
  UserMessage m;
  m.parts.push_back(MessagePart{"", nullptr, std::make_shared<const ImageEmbeddings>(wide)});
  EXPECT_THROW(conv.add_user(m), Error);
}

TEST(ImageTurn, SmolVlmImageFileIsEncodedAndSplicedWithTiles) {
  // File -> encoder -> turn -> conversation equals encoder -> direct spliced prompt.
  ClipImageEncoder enc(testing::refdata(kSmolProj));
  auto model = llm::Model::load(testing::refdata(kSmolLlm));
  LocalConversation conv(model, "tiny-smol", {.n_ctx = 512}, "");
  Stages st;
  st.image_encoder = &enc;
  TurnInput in;
  in.image = ImageInput::from_file(testing::refdata("vision/images/rocket.jpg"));
  in.text = "Describe this image.";
  TurnOptions opt;
  opt.gen.max_tokens = 8;
  Trace trace;
  const TurnResult r = run_turn(st, conv, in, opt, CancelToken(), trace);
  EXPECT_EQ(r.image_tokens, 52);  // 4 x 3 tiles + global, 4 rows each
  const ImageEmbeddings e = enc.encode(*in.image, CancelToken());
  const auto d = direct(model, "<__media__>\nDescribe this image.", e, 8);
  EXPECT_EQ(r.answer, d.text);
  // 1 BOS + 12 tiles x (2 + 4) + 2 row breaks + (3 + 4 + 1) global + the text.
  EXPECT_GT(trace.summary.prompt_tokens, 1 + 72 + 2 + 8);
}

TEST(CaptionImageReader, AsksTheVlmAndMatchesADirectSplicedRun) {
  ClipImageEncoder enc(testing::refdata(kLlavaProj));
  auto model = llm::Model::load(testing::refdata(kLlavaLlm));
  CaptionImageReader reader(model, "tiny", enc, {.n_ctx = 512}, 12);
  const ImageInput img = ImageInput::from_file(testing::refdata("vision/images/horse.png"));
  const ImageText t = reader.describe(img, CancelToken());
  EXPECT_EQ(t.kind, "caption");
  const auto d = direct(model, std::string("<__media__>\n") + kCaptionPrompt, enc.encode(img, CancelToken()), 12);
  EXPECT_EQ(reader.last_reply().stats.generated_tokens, 12);
  EXPECT_EQ(reader.last_reply().text, d.text);
  EXPECT_FALSE(t.text.empty());
  // BOS + 256 image rows + the prompt's tokens.
  EXPECT_EQ(reader.last_reply().stats.prompt_tokens,
            1 + 256 + static_cast<int>(model->vocab().tokenize(std::string("\n") + kCaptionPrompt, false, false).size()));
}

}  // namespace
}  // namespace omni::pipeline
