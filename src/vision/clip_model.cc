#include "vision/clip_model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/kernels.h"

namespace omni::vision {
namespace {

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

class Binder {
 public:
  explicit Binder(const gguf::File& f) : f_(f) {}

  const gguf::TensorInfo* find(const std::string& name) const { return f_.tensor(name); }

  const gguf::TensorInfo& need(const std::string& name) const {
    const auto* t = f_.tensor(name);
    if (!t) throw FormatError(f_.path() + ": missing tensor " + name);
    return *t;
  }

  void check_shape(const gguf::TensorInfo& t, const std::vector<uint64_t>& want) const {
    if (t.shape != want) {
      throw FormatError(f_.path() + ": tensor " + t.name + " has shape " + shape_str(t.shape) +
                        ", expected " + shape_str(want));
    }
  }

  std::vector<float> floats(const gguf::TensorInfo& t) const {
    std::vector<float> out(static_cast<size_t>(t.n_elements));
    if (t.type == DType::F32) {
      std::memcpy(out.data(), t.data, out.size() * sizeof(float));
    } else if (t.type == DType::F16) {
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = fp16_to_fp32(h);
      }
    } else {
      throw Error(f_.path() + ": tensor " + t.name + " has type " +
                  std::string(dtype_name(t.type)) + ", expected F32 or F16");
    }
    return out;
  }

  std::vector<float> vec(const std::string& name, uint64_t n) const {
    const auto& t = need(name);
    check_shape(t, {n});
    return floats(t);
  }

  Norm norm(const std::string& prefix, uint64_t n, bool optional = false) const {
    Norm r;
    if (optional && !find(prefix + ".weight")) return r;
    r.w = vec(prefix + ".weight", n);
    r.b = vec(prefix + ".bias", n);
    return r;
  }

  // Weight of ggml shape [in, out] (+ bias [out] when `bias`).
  Linear linear(const std::string& prefix, uint64_t in, uint64_t out, bool bias = true) const {
    const auto& t = need(prefix + ".weight");
    check_shape(t, {in, out});
    if (t.type != DType::F32 && t.type != DType::F16 && t.type != DType::Q8_0) {
      throw Error(f_.path() + ": tensor " + t.name + " has type " +
                  std::string(dtype_name(t.type)) + ", supported: F32, F16, Q8_0");
    }
    if (t.type == DType::Q8_0 && in % 32 != 0) {
      throw FormatError(f_.path() + ": tensor " + t.name + " is Q8_0 with rows of " +
                        std::to_string(in) + " (not a multiple of 32)");
    }
    Linear l;
    l.type = t.type;
    l.w = t.data;
    l.rows = static_cast<int64_t>(out);
    l.cols = static_cast<int64_t>(in);
    if (bias) l.bias = vec(prefix + ".bias", out);
    return l;
  }

 private:
  const gguf::File& f_;
};

int get_int(const gguf::File& f, const std::string& key, int lo, int hi) {
  const auto v = f.get_int(key);
  if (!v) throw FormatError(f.path() + ": missing key " + key);
  if (*v < lo || *v > hi) {
    throw FormatError(f.path() + ": key " + key + " = " + std::to_string(*v) + " out of range [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(*v);
}

std::array<float, 3> get_rgb(const gguf::File& f, const std::string& key) {
  const auto* a = f.get_array(key);
  if (!a || a->items.size() != 3) throw FormatError(f.path() + ": key " + key + " must be 3 numbers");
  std::array<float, 3> r{};
  for (int i = 0; i < 3; ++i) {
    const auto d = a->items[static_cast<size_t>(i)].as_double();
    if (!d || !std::isfinite(*d)) throw FormatError(f.path() + ": key " + key + " must be 3 numbers");
    r[static_cast<size_t>(i)] = static_cast<float>(*d);
  }
  return r;
}

// Packs a float matrix for the GEMM block, then lets the kernel drop the file's pages of it
// (they are read again from the file if anything touches them), so the weights are resident
// once, not twice.
void release(const Linear& l) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto lo = reinterpret_cast<uintptr_t>(l.w);
  const uintptr_t hi = lo + static_cast<uintptr_t>(l.rows * l.cols) * (l.type == DType::F16 ? 2 : 4);
  const uintptr_t a = (lo + page - 1) / page * page, b = hi / page * page;
  if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
}

void pack(Linear& l) {
  if (l.w == nullptr || (l.type != DType::F32 && l.type != DType::F16)) return;
  l.packed = PackedWeights(l.type, l.w, l.rows, l.cols);
  release(l);
}

// q, k and v as one packed product (ClipLayer::qkv) when all three are F32 or all F16; the
// separate matrices stay unpacked then.
void pack_qkv(ClipLayer& L) {
  const DType t = L.q.type;
  if ((t != DType::F32 && t != DType::F16) || L.k.type != t || L.v.type != t) {
    for (Linear* l : {&L.q, &L.k, &L.v}) pack(*l);
    return;
  }
  const size_t es = t == DType::F16 ? 2 : 4;
  const int64_t D = L.q.rows, cols = L.q.cols;
  const size_t one = static_cast<size_t>(D * cols) * es;
  std::vector<uint8_t> stacked(3 * one);
  Linear& f = L.qkv;
  f.type = t;
  f.rows = 3 * D;
  f.cols = cols;
  const Linear* parts[3] = {&L.q, &L.k, &L.v};
  const bool bias = !L.q.bias.empty() || !L.k.bias.empty() || !L.v.bias.empty();
  for (int i = 0; i < 3; ++i) {
    std::memcpy(stacked.data() + static_cast<size_t>(i) * one, parts[i]->w, one);
    const std::vector<float>& b = parts[i]->bias;
    if (!bias) continue;
    if (b.empty()) {
      f.bias.insert(f.bias.end(), static_cast<size_t>(D), 0.0f);
    } else {
      f.bias.insert(f.bias.end(), b.begin(), b.end());
    }
  }
  f.packed = PackedWeights(t, stacked.data(), f.rows, f.cols);
  for (Linear* l : {&L.q, &L.k, &L.v}) release(*l);
}

}  // namespace

size_t ClipModel::packed_bytes() const {
  size_t n = 0;
  auto add = [&](const Linear& l) { n += l.packed.empty() ? 0 : l.packed.bytes(); };
  add(w_.patch);
  for (const ClipLayer& L : w_.layers) {
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.fc1, &L.fc2}) add(*l);
  }
  add(w_.mm0);
  add(w_.mm2);
  add(w_.mm_fc);
  return n;
}

int ClipHparams::tokens_per_tile() const {
  switch (projector) {
    case ProjectorType::kMlp: return n_patches();
    case ProjectorType::kIdefics3: return n_patches() / (scale_factor * scale_factor);
  }
  return 0;
}

PreprocessConfig ClipModel::preprocess_config() const {
  PreprocessConfig c;
  c.projector = hp_.projector;
  c.image_size = hp_.image_size;
  c.preproc_image_size = hp_.preproc_image_size;
  c.mean = hp_.mean;
  c.std = hp_.std;
  return c;
}

std::shared_ptr<ClipModel> ClipModel::load(const std::string& path) {
  std::shared_ptr<ClipModel> m(new ClipModel(gguf::File::open(path)));
  const gguf::File& f = m->file_;
  if (f.architecture() != "clip") {
    throw FormatError(path + ": general.architecture is \"" + f.architecture() +
                      "\", expected \"clip\" (an mmproj file)");
  }
  ClipHparams& hp = m->hp_;
  auto type = f.get_string("clip.projector_type");
  if (!type) type = f.get_string("clip.vision.projector_type");
  if (!type) throw FormatError(path + ": missing key clip.projector_type");
  hp.projector_name = *type;
  if (*type == "mlp") {
    hp.projector = ProjectorType::kMlp;
  } else if (*type == "idefics3") {
    hp.projector = ProjectorType::kIdefics3;
  } else {
    throw FormatError(path + ": projector type \"" + *type +
                      "\" is not supported (supported: mlp, idefics3)");
  }
  hp.image_size = get_int(f, "clip.vision.image_size", 1, 8192);
  hp.patch_size = get_int(f, "clip.vision.patch_size", 1, 1024);
  hp.n_embd = get_int(f, "clip.vision.embedding_length", 1, 1 << 16);
  hp.n_ff = get_int(f, "clip.vision.feed_forward_length", 1, 1 << 18);
  hp.n_head = get_int(f, "clip.vision.attention.head_count", 1, 1024);
  hp.n_layer = get_int(f, "clip.vision.block_count", 1, 1024);
  if (hp.image_size % hp.patch_size != 0) {
    throw FormatError(path + ": image_size " + std::to_string(hp.image_size) +
                      " is not a multiple of patch_size " + std::to_string(hp.patch_size));
  }
  if (hp.n_embd % hp.n_head != 0) {
    throw FormatError(path + ": embedding_length is not a multiple of head_count");
  }
  if (const auto eps = f.get_float("clip.vision.attention.layer_norm_epsilon")) {
    hp.eps = static_cast<float>(*eps);
  }
  hp.use_gelu = f.get_bool("clip.use_gelu").value_or(true);
  hp.mean = get_rgb(f, "clip.vision.image_mean");
  hp.std = get_rgb(f, "clip.vision.image_std");
  for (float s : hp.std) {
    if (!(s > 0)) throw FormatError(path + ": clip.vision.image_std must be positive");
  }
  if (f.find("clip.vision.image_grid_pinpoints")) {
    throw FormatError(path + ": LLaVA-1.6 grid pinpoints (anyres) are not supported");
  }

  const uint64_t D = static_cast<uint64_t>(hp.n_embd), F = static_cast<uint64_t>(hp.n_ff);
  const uint64_t P = static_cast<uint64_t>(hp.patch_size);
  Binder b(f);
  ClipWeights& w = m->w_;
  {
    const auto& t = b.need("v.patch_embd.weight");
    b.check_shape(t, {P, P, 3, D});
    if (t.type != DType::F32 && t.type != DType::F16) {
      throw Error(path + ": tensor v.patch_embd.weight must be F32 or F16");
    }
    w.patch.type = t.type;
    w.patch.w = t.data;
    w.patch.rows = static_cast<int64_t>(D);
    w.patch.cols = static_cast<int64_t>(3 * P * P);
    if (b.find("v.patch_embd.bias")) w.patch.bias = b.vec("v.patch_embd.bias", D);
  }
  const bool has_class = hp.projector == ProjectorType::kMlp;
  if (has_class) w.class_embd = b.vec("v.class_embd", D);
  {
    const auto& t = b.need("v.position_embd.weight");
    const uint64_t n_pos = static_cast<uint64_t>(hp.n_patches()) + (has_class ? 1 : 0);
    b.check_shape(t, {D, n_pos});
    w.pos_embd = b.floats(t);
    w.n_pos = static_cast<int>(n_pos);
  }
  w.pre_ln = b.norm("v.pre_ln", D, true);
  w.post_ln = b.norm("v.post_ln", D, true);
  for (int il = 0; il < hp.n_layer; ++il) {
    const std::string p = "v.blk." + std::to_string(il) + ".";
    ClipLayer L;
    L.ln1 = b.norm(p + "ln1", D);
    L.ln2 = b.norm(p + "ln2", D);
    L.q = b.linear(p + "attn_q", D, D);
    L.k = b.linear(p + "attn_k", D, D);
    L.v = b.linear(p + "attn_v", D, D);
    L.o = b.linear(p + "attn_out", D, D);
    // The legacy LLaVA converter stores fc1 (D -> F) as ffn_down and fc2 as ffn_up.
    const auto& down = b.need(p + "ffn_down.weight");
    const bool swapped = F != D && !down.shape.empty() && down.shape[0] == D;
    if (swapped) {
      L.fc1 = b.linear(p + "ffn_down", D, F);
      L.fc2 = b.linear(p + "ffn_up", F, D);
    } else {
      L.fc1 = b.linear(p + "ffn_up", D, F);
      L.fc2 = b.linear(p + "ffn_down", F, D);
    }
    w.layers.push_back(std::move(L));
  }
  switch (hp.projector) {
    case ProjectorType::kMlp: {
      const auto& t0 = b.need("mm.0.weight");
      if (t0.shape.size() != 2) throw FormatError(path + ": tensor mm.0.weight must be 2-D");
      const uint64_t hidden = t0.shape[1];
      w.mm0 = b.linear("mm.0", D, hidden);
      const auto& t2 = b.need("mm.2.weight");
      if (t2.shape.size() != 2) throw FormatError(path + ": tensor mm.2.weight must be 2-D");
      w.mm2 = b.linear("mm.2", hidden, t2.shape[1]);
      hp.n_embd_out = static_cast<int>(t2.shape[1]);
      break;
    }
    case ProjectorType::kIdefics3: {
      hp.scale_factor = get_int(f, "clip.vision.projector.scale_factor", 1, 64);
      if (hp.n_patches_side() % hp.scale_factor != 0) {
        throw FormatError(path + ": patch grid " + std::to_string(hp.n_patches_side()) +
                          " is not a multiple of scale_factor " + std::to_string(hp.scale_factor));
      }
      hp.preproc_image_size = static_cast<int>(f.get_int("clip.vision.preproc_image_size").value_or(4 * hp.image_size));
      if (hp.preproc_image_size < hp.image_size || hp.preproc_image_size > 65536) {
        throw FormatError(path + ": clip.vision.preproc_image_size out of range");
      }
      const uint64_t in = D * static_cast<uint64_t>(hp.scale_factor * hp.scale_factor);
      const auto& t = b.need("mm.model.fc.weight");
      if (t.shape.size() != 2) throw FormatError(path + ": tensor mm.model.fc.weight must be 2-D");
      w.mm_fc = b.linear("mm.model.fc", in, t.shape[1], false);
      hp.n_embd_out = static_cast<int>(t.shape[1]);
      break;
    }
  }
  if (kernels::active().gemm6x64_f32 != nullptr) {
    pack(w.patch);
    for (ClipLayer& L : w.layers) {
      pack_qkv(L);
      for (Linear* l : {&L.o, &L.fc1, &L.fc2}) pack(*l);
    }
    pack(w.mm0);
    pack(w.mm2);
    pack(w.mm_fc);
  }
  if (const char* e = std::getenv("OMNI_VISION_STRASSEN")) {
    const int levels = std::atoi(e);
    if (levels < 0 || levels > 2) throw Error("OMNI_VISION_STRASSEN must be 0, 1 or 2");
    m->strassen_.max_levels = levels;
  }
  return m;
}

}  // namespace omni::vision
