#include "mmproj_gen.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/gguf.h"
#include "core/half.h"
#include "core/quant.h"
#include "rng.h"

namespace omni::gen {
namespace {

struct Spec {
  std::string name;
  std::vector<uint64_t> shape;
  enum Kind { kMatrix, kBias, kNorm } kind;
};

std::vector<uint8_t> encode(const std::vector<float>& x, DType t, uint64_t ne0) {
  std::vector<uint8_t> out;
  if (t == DType::F32) {
    out.resize(x.size() * 4);
    std::memcpy(out.data(), x.data(), out.size());
  } else if (t == DType::F16) {
    out.resize(x.size() * 2);
    for (size_t i = 0; i < x.size(); ++i) {
      const uint16_t h = fp32_to_fp16(x[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  } else {
    const auto rb = row_bytes(t, ne0);
    const uint64_t rows = x.size() / ne0;
    out.resize(*rb * rows);
    quantize_tensor(t, x.data(), out.data(), static_cast<int64_t>(rows), static_cast<int64_t>(ne0));
  }
  return out;
}

}  // namespace

std::optional<MmprojShape> mmproj_preset(const std::string& name) {
  if (name == "smolvlm-256m") return MmprojShape{};
  if (name == "llava15-7b") {
    MmprojShape s;
    s.projector = "mlp";
    s.image_size = 336;
    s.patch_size = 14;
    s.n_embd = 1024;
    s.n_ff = 4096;
    s.n_head = 16;
    s.n_layer = 23;  // ViT-L has 24; LLaVA's feature layer -2 leaves 23 stored
    s.n_embd_out = 4096;
    s.mm_hidden = 4096;
    s.eps = 1e-5f;
    return s;
  }
  return std::nullopt;
}

void generate_mmproj(const MmprojShape& s, const MmprojGenOptions& o, const std::string& path) {
  const bool mlp = s.projector == "mlp";
  if (!mlp && s.projector != "idefics3") throw Error("omni-gen: unknown projector '" + s.projector + "' (mlp, idefics3)");
  if (s.patch_size == 0 || s.image_size % s.patch_size != 0 || s.n_head == 0 || s.n_embd % s.n_head != 0) {
    throw Error("omni-gen: inconsistent mmproj shape");
  }
  const uint64_t g = s.image_size / s.patch_size;
  if (!mlp && (s.scale_factor == 0 || g % s.scale_factor != 0)) throw Error("omni-gen: patch grid not a multiple of scale factor");
  DType mat;
  if (o.type == "f32") {
    mat = DType::F32;
  } else if (o.type == "f16") {
    mat = DType::F16;
  } else if (o.type == "q8_0") {
    mat = DType::Q8_0;
  } else {
    throw Error("omni-gen: mmproj type must be f32, f16 or q8_0");
  }

  gguf::Writer w;
  w.set("general.architecture", gguf::make_string("clip"));
  w.set("general.name", gguf::make_string(o.name.empty() ? "mmproj-random" : o.name));
  w.set("general.file_type", gguf::make_u32(mat == DType::F32 ? 0 : mat == DType::F16 ? 1 : 7));
  w.set("clip.has_vision_encoder", gguf::make_bool(true));
  if (mlp) w.set("clip.has_llava_projector", gguf::make_bool(true));
  w.set("clip.projector_type", gguf::make_string(s.projector));
  w.set("clip.vision.image_size", gguf::make_u32(s.image_size));
  w.set("clip.vision.patch_size", gguf::make_u32(s.patch_size));
  w.set("clip.vision.embedding_length", gguf::make_u32(s.n_embd));
  w.set("clip.vision.feed_forward_length", gguf::make_u32(s.n_ff));
  w.set("clip.vision.projection_dim", gguf::make_u32(s.n_embd_out));
  w.set("clip.vision.attention.head_count", gguf::make_u32(s.n_head));
  w.set("clip.vision.attention.layer_norm_epsilon", gguf::make_f32(s.eps));
  w.set("clip.vision.block_count", gguf::make_u32(s.n_layer));
  const auto rgb = [](float a, float b, float c) {
    return gguf::make_array(gguf::ValueType::F32, {gguf::make_f32(a), gguf::make_f32(b), gguf::make_f32(c)});
  };
  if (mlp) {
    w.set("clip.vision.image_mean", rgb(0.48145466f, 0.4578275f, 0.40821073f));
    w.set("clip.vision.image_std", rgb(0.26862954f, 0.26130258f, 0.27577711f));
    w.set("clip.use_gelu", gguf::make_bool(false));
  } else {
    w.set("clip.vision.image_mean", rgb(0.5f, 0.5f, 0.5f));
    w.set("clip.vision.image_std", rgb(0.5f, 0.5f, 0.5f));
    w.set("clip.use_gelu", gguf::make_bool(true));
    w.set("clip.vision.projector.scale_factor", gguf::make_u32(s.scale_factor));
    w.set("clip.vision.preproc_image_size", gguf::make_u32(s.preproc_image_size));
  }

  const uint64_t D = s.n_embd, F = s.n_ff, P = s.patch_size;
  std::vector<Spec> specs;
  if (mlp) {
    specs.push_back({"mm.0.weight", {D, s.mm_hidden}, Spec::kMatrix});
    specs.push_back({"mm.0.bias", {s.mm_hidden}, Spec::kBias});
    specs.push_back({"mm.2.weight", {s.mm_hidden, s.n_embd_out}, Spec::kMatrix});
    specs.push_back({"mm.2.bias", {s.n_embd_out}, Spec::kBias});
    specs.push_back({"v.class_embd", {D}, Spec::kBias});
  }
  specs.push_back({"v.patch_embd.weight", {P, P, 3, D}, Spec::kMatrix});
  if (!mlp) specs.push_back({"v.patch_embd.bias", {D}, Spec::kBias});
  specs.push_back({"v.position_embd.weight", {D, g * g + (mlp ? 1 : 0)}, Spec::kBias});
  if (mlp) {
    specs.push_back({"v.pre_ln.weight", {D}, Spec::kNorm});
    specs.push_back({"v.pre_ln.bias", {D}, Spec::kBias});
  }
  for (uint32_t il = 0; il < s.n_layer; ++il) {
    const std::string p = "v.blk." + std::to_string(il) + ".";
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_out"}) {
      specs.push_back({p + m + ".weight", {D, D}, Spec::kMatrix});
      specs.push_back({p + m + ".bias", {D}, Spec::kBias});
    }
    specs.push_back({p + "ln1.weight", {D}, Spec::kNorm});
    specs.push_back({p + "ln1.bias", {D}, Spec::kBias});
    // The legacy LLaVA converter's names: fc1 as ffn_down, fc2 as ffn_up.
    const char* fc1 = mlp ? "ffn_down" : "ffn_up";
    const char* fc2 = mlp ? "ffn_up" : "ffn_down";
    specs.push_back({p + fc1 + ".weight", {D, F}, Spec::kMatrix});
    specs.push_back({p + fc1 + ".bias", {F}, Spec::kBias});
    specs.push_back({p + fc2 + ".weight", {F, D}, Spec::kMatrix});
    specs.push_back({p + fc2 + ".bias", {D}, Spec::kBias});
    specs.push_back({p + "ln2.weight", {D}, Spec::kNorm});
    specs.push_back({p + "ln2.bias", {D}, Spec::kBias});
  }
  if (!mlp) {
    specs.push_back({"v.post_ln.weight", {D}, Spec::kNorm});
    specs.push_back({"v.post_ln.bias", {D}, Spec::kBias});
    specs.push_back({"mm.model.fc.weight", {D * s.scale_factor * s.scale_factor, s.n_embd_out}, Spec::kMatrix});
  }

  std::vector<float> buf;
  for (size_t ti = 0; ti < specs.size(); ++ti) {
    const Spec& t = specs[ti];
    uint64_t n = 1;
    for (auto d : t.shape) n *= d;
    buf.assign(n, 0.0f);
    fill_normal(buf.data(), n, o.seed, ti, t.kind == Spec::kNorm ? 0.05f : o.stddev);
    if (t.kind == Spec::kNorm) {
      for (float& v : buf) v += 1.0f;
    }
    DType dt = DType::F32;
    if (t.kind == Spec::kMatrix) {
      dt = mat;
      // Rows that are not whole Q8_0 blocks (the patch kernel: 3 * P * P) stay F16.
      if (dt == DType::Q8_0 && t.shape[0] % 32 != 0) dt = DType::F16;
      if (t.name == "v.patch_embd.weight" && dt == DType::Q8_0) dt = DType::F16;
    }
    w.add_tensor(t.name, dt, t.shape, encode(buf, dt, t.shape[0]));
  }
  w.write(path);
}

}  // namespace omni::gen
