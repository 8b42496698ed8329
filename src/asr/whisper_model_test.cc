// Whisper model binding: special tokens, every weight type and mel count, clear errors for
// missing or mis-shaped tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "asr/whisper.h"
#include "asr/whisper_forward.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "testing/refdata.h"

namespace omni::asr {
namespace {

using omni::testing::binary;
using omni::testing::refdata;
using omni::testing::run_command;

const std::string kMicro = "asr/models/ggml-micro-random-f16.bin";

TEST(WhisperModel, SpecialTokensFollowVocabSize) {
  const auto m = WhisperModel::load(refdata(kMicro));
  EXPECT_TRUE(m->tokens().multilingual);
  EXPECT_EQ(m->tokens().eot, 50257);
  EXPECT_EQ(m->tokens().sot, 50258);
  EXPECT_EQ(m->tokens().transcribe, 50359);
  EXPECT_EQ(m->tokens().not_ts, 50363);
  EXPECT_EQ(m->tokens().beg, 50364);
  EXPECT_EQ(m->tokens().space, 220);
  EXPECT_EQ(m->token_text(50365), "[_TT_1]");
  const auto en = WhisperModel::load(refdata("asr/models/ggml-micro.en-random-f16.bin"));
  EXPECT_FALSE(en->tokens().multilingual);
  EXPECT_EQ(en->tokens().eot, 50256);
  EXPECT_EQ(en->tokens().beg, 50363);
}

// Rewrites the micro model without (or with a changed) tensor.
std::string mutated(const std::string& drop, const std::string& reshape) {
  const ggml::File f = ggml::File::open(refdata(kMicro));
  ggml::Writer w(f.hparams(), f.mel_filters(), f.vocab());
  for (const auto& t : f.tensors()) {
    if (t.name == drop) continue;
    if (t.name == reshape) {
      // Same bytes, rows and columns swapped.
      auto shape = t.shape;
      std::swap(shape[0], shape[1]);
      w.add_tensor(t.name, t.type, shape, t.bytes());
      continue;
    }
    w.add_tensor(t.name, t.type, t.shape, t.bytes());
  }
  const std::string path = ::testing::TempDir() + "whisper_mut.bin";
  w.write(path);
  return path;
}

TEST(WhisperModel, MissingTensorIsNamed) {
  const std::string p = mutated("decoder.blocks.1.cross_attn.value.weight", "");
  try {
    WhisperModel::load(p);
    FAIL() << "loaded a model without a tensor";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("decoder.blocks.1.cross_attn.value.weight"),
              std::string::npos)
        << e.what();
  }
}

TEST(WhisperModel, WrongShapeIsNamed) {
  const std::string p = mutated("", "encoder.blocks.0.mlp.0.weight");
  try {
    WhisperModel::load(p);
    FAIL() << "loaded a mis-shaped model";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.blocks.0.mlp.0.weight"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("expected"), std::string::npos);
  }
}

// Generated small models of every weight type (and 128 mel bins) load, encode and decode.
TEST(WhisperModel, AllWeightTypesRun) {
  ThreadPool pool(2);
  for (const std::string type : {"f32", "f16", "q8_0", "q5_0", "q5_1", "q4_0", "q4_1"}) {
    SCOPED_TRACE(type);
    const std::string out = ::testing::TempDir() + "whisper_gen_" + type + ".bin";
    const std::string cmd = binary("omni-gen") + " whisper --preset whisper-tiny --audio-ctx 64 " +
                            "--audio-state 64 --text-state 64 --audio-layers 1 --text-layers 1 " +
                            "--audio-heads 2 --text-heads 2 --mels " +
                            (type == "q8_0" ? "128" : "80") + " --vocab-from " + refdata(kMicro) +
                            " --type " + type + " -o " + out;
    std::string log;
    ASSERT_EQ(run_command(cmd, &log, true), 0) << log;
    const auto m = WhisperModel::load(out);
    EXPECT_EQ(m->hparams().n_mels, type == "q8_0" ? 128 : 80);
    std::vector<float> pcm(16000, 0.0f);
    for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = 0.1f * static_cast<float>((i * 7) % 13) - 0.6f;
    LogMelOptions mo;
    const LogMel mel = log_mel_spectrogram(pcm, m->mel_filters(), mo);
    const auto enc = whisper_encode(*m, mel, 0, 64, pool);
    WhisperDecoder dec(*m, pool);
    dec.set_audio(enc, 64);
    std::vector<float> logits;
    const int32_t sot = m->tokens().sot;
    dec.decode(&sot, 1, logits);
    ASSERT_EQ(logits.size(), static_cast<size_t>(m->n_vocab()));
    for (float v : logits) ASSERT_TRUE(std::isfinite(v));
    std::filesystem::remove(out);
  }
}

TEST(WhisperCli, TranscribeJsonAndText) {
  const std::string base = binary("omni") + " transcribe " + refdata("asr/audio/jfk.wav") +
                           " -m " + refdata(kMicro) + " -t 2 --beam 1 --no-fallback";
  std::string out;
  ASSERT_EQ(run_command(base + " --json", &out), 0) << out;
  // The whisper.cpp golden for this clip (greedy, no fallback: whisper-cli -bs 1 -bo 1 -nf): one segment " allows", 26 -> 2996.
  EXPECT_NE(out.find("\"t0\":26"), std::string::npos) << out;
  EXPECT_NE(out.find("\"t1\":2996"), std::string::npos) << out;
  EXPECT_NE(out.find("\"text\":\" allows\""), std::string::npos) << out;
  EXPECT_NE(out.find("{\"id\":4045,"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"id\":51862,"), std::string::npos) << out;
  ASSERT_EQ(run_command(base, &out), 0);
  EXPECT_EQ(out, "[00:00:00.260 --> 00:00:29.960]  allows\n");
  EXPECT_EQ(run_command(base + " -l xx", &out, true), 1);
  EXPECT_NE(out.find("unknown language"), std::string::npos) << out;
  EXPECT_NE(run_command(binary("omni") + " transcribe " + refdata("asr/audio/jfk.wav") +
                            " -m " + refdata("asr/audio/jfk.wav"),
                        &out, true),
            0);
}

}  // namespace
}  // namespace omni::asr
