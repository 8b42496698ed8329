// Whisper encoder: two 1-D convolutions (k=3, pad 1; the second with stride 2) with GELU, the
// sinusoidal positional embedding, pre-LN transformer blocks and ln_post.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "asr/whisper_forward.h"
#include "asr/whisper_ops.h"
#include "core/error.h"

namespace omni::asr {
namespace {

using detail::gelu;
using detail::layer_norm;
using detail::linear;

// Conv1d (kernel 3, padding 1, stride `stride`) over x[t_in][c_in] as a matmul over im2col rows.
// With f16 kernels the patches are rounded to f16 first, like ggml's im2col, so results track
// whisper.cpp closely.
std::vector<float> conv1d(const WhisperMatrix& w, const std::vector<float>& bias, const float* x,
                          int64_t t_in, int64_t c_in, int stride, int64_t t_out,
                          ThreadPool& pool) {
  const int64_t cols = c_in * 3;
  std::vector<float> patches(static_cast<size_t>(t_out * cols));
  pool.parallel_for(
      t_out,
      [&](int64_t b, int64_t e) {
        std::vector<uint16_t> half(static_cast<size_t>(cols));
        for (int64_t t = b; t < e; ++t) {
          float* row = patches.data() + t * cols;
          for (int k = 0; k < 3; ++k) {
            const int64_t src = t * stride + k - 1;
            const bool in = src >= 0 && src < t_in;
            for (int64_t c = 0; c < c_in; ++c) row[c * 3 + k] = in ? x[src * c_in + c] : 0.0f;
          }
          if (w.type == DType::F16) {
            kernels::fp32_to_fp16_row(row, cols, half.data());
            kernels::fp16_to_fp32_row(half.data(), cols, row);
          }
        }
      },
      8);
  std::vector<float> y(static_cast<size_t>(t_out * w.rows));
  kernels::matmul(w.type, w.data, w.rows, cols, patches.data(), t_out, y.data(), &pool);
  kernels::add_rows(y.data(), bias.data(), t_out, w.rows, y.data());
  gelu(y.data(), static_cast<int64_t>(y.size()), pool);
  return y;
}

// 64-byte aligned float scratch (the GEMM block loads its packed operand aligned).
class AlignedFloats {
 public:
  float* get(size_t n) {
    buf_.resize(n + 16);
    const auto base = reinterpret_cast<uintptr_t>(buf_.data());
    return buf_.data() + ((64 - base % 64) % 64) / sizeof(float);
  }

 private:
  std::vector<float> buf_;
};

// Full (unmasked) multi-head self-attention of n frames: q, k, v are [n][ns] (q and k already
// scaled); writes [n][ns] into out.
//
// Blocked on the level's 6x64 GEMM block, with both operands packed once per head: keys in
// panels of 64 (Kp[p][kk][r] = K[64p + r][kk], the "weights" of QKᵀ) and V as is, padded to 64
// columns (Vp[j][r] = V[j][r], already the k-major layout PV needs). The work is split into
// (head, block of queries) tasks, each running QKᵀ, softmax and PV on its own kQb x n score
// block, which stays in L2 (a whole n x n head does not), and both products spread over the
// threads (PV has only d_head output rows, too few to split). The sums run in the same order
// as kernels::matmul's packed GEMM over all queries (one k block for QKᵀ since d_head <= 64,
// 512-key blocks added in order for PV), so results equal that unblocked computation.
void encoder_attention_packed(const kernels::KernelTable& kt, const float* q, const float* k,
                              const float* v, int64_t n, int64_t ns, int64_t n_head, float* out,
                              ThreadPool& pool) {
  constexpr int64_t kQb = 96, kMr = 6, kNr = 64, kKc = 512;
  const int64_t dh = ns / n_head;
  const int64_t panels = (n + kNr - 1) / kNr;
  const int64_t kp_size = panels * kNr * dh, vp_size = n * kNr;
  AlignedFloats kbuf, vbuf;
  float* kp_all = kbuf.get(static_cast<size_t>(n_head * kp_size));
  float* vp_all = vbuf.get(static_cast<size_t>(n_head * vp_size));
  pool.parallel_for(
      n_head,
      [&](int64_t hb, int64_t he) {
        for (int64_t h = hb; h < he; ++h) {
          float* kp = kp_all + h * kp_size;
          float* vp = vp_all + h * vp_size;
          for (int64_t j = 0; j < panels * kNr; ++j) {
            const int64_t p = j / kNr, r = j % kNr;
            for (int64_t d = 0; d < dh; ++d) {
              kp[(p * dh + d) * kNr + r] = j < n ? k[j * ns + h * dh + d] : 0.0f;
            }
          }
          for (int64_t j = 0; j < n; ++j) {
            std::copy_n(v + j * ns + h * dh, dh, vp + j * kNr);
            std::fill_n(vp + j * kNr + dh, kNr - dh, 0.0f);
          }
        }
      },
      1);
  const int64_t blocks = std::max<int64_t>(1, (n + kQb - 1) / kQb);
  pool.parallel_for(
      n_head * blocks,
      [&](int64_t tb, int64_t te) {
        thread_local std::vector<float> s;
        s.resize(static_cast<size_t>(kQb * n));
        float c[kMr * kNr];
        for (int64_t t = tb; t < te; ++t) {
          const int64_t h = t / blocks, i0 = (t % blocks) * kQb, m = std::min(kQb, n - i0);
          const float* kp = kp_all + h * kp_size;
          const float* vp = vp_all + h * vp_size;
          const float* qh = q + i0 * ns + h * dh;
          for (int64_t p = 0; p < panels; ++p) {
            const int64_t nr = std::min(kNr, n - p * kNr);
            for (int64_t a0 = 0; a0 < m; a0 += kMr) {
              const int64_t ma = std::min(kMr, m - a0);
              kt.gemm6x64_f32(kp + p * dh * kNr, dh, qh + a0 * ns, ns, ma, c);
              for (int64_t a = 0; a < ma; ++a) {
                std::copy_n(c + kNr * a, nr, s.data() + (a0 + a) * n + p * kNr);
              }
            }
          }
          for (int64_t i = 0; i < m; ++i) kt.softmax(s.data() + i * n, n, 1.0f, nullptr);
          float* oh = out + i0 * ns + h * dh;
          for (int64_t k0 = 0; k0 < n; k0 += kKc) {
            const int64_t kc = std::min(kKc, n - k0);
            for (int64_t a0 = 0; a0 < m; a0 += kMr) {
              const int64_t ma = std::min(kMr, m - a0);
              kt.gemm6x64_f32(vp + k0 * kNr, kc, s.data() + a0 * n + k0, n, ma, c);
              for (int64_t a = 0; a < ma; ++a) {
                float* o = oh + (a0 + a) * ns;
                const float* cr = c + kNr * a;
                if (k0 == 0) {
                  std::copy_n(cr, dh, o);
                } else {
                  for (int64_t d = 0; d < dh; ++d) o[d] += cr[d];
                }
              }
            }
          }
        }
      },
      1);
}

// Without a GEMM block (scalar / AVX2 levels): per head through kernels::matmul.
void encoder_attention_generic(const float* q, const float* k, const float* v, int64_t n,
                               int64_t ns, int64_t n_head, float* out, ThreadPool& pool) {
  const int64_t dh = ns / n_head;
  std::vector<float> qh(static_cast<size_t>(n * dh)), kh(qh.size()), vt(qh.size()), oh(qh.size());
  std::vector<float> s(static_cast<size_t>(n * n));
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t d = 0; d < dh; ++d) {
        qh[i * dh + d] = q[i * ns + h * dh + d];
        kh[i * dh + d] = k[i * ns + h * dh + d];
        vt[d * n + i] = v[i * ns + h * dh + d];
      }
    }
    kernels::matmul(DType::F32, kh.data(), n, dh, qh.data(), n, s.data(), &pool);
    pool.parallel_for(
        n,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) kernels::softmax(s.data() + i * n, n);
        },
        16);
    kernels::matmul(DType::F32, vt.data(), dh, n, s.data(), n, oh.data(), &pool);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t d = 0; d < dh; ++d) out[i * ns + h * dh + d] = oh[i * dh + d];
    }
  }
}

void encoder_attention(const float* q, const float* k, const float* v, int64_t n, int64_t ns,
                       int64_t n_head, float* out, ThreadPool& pool) {
  const kernels::KernelTable& kt = kernels::active();
  if (kt.gemm6x64_f32 != nullptr && ns / n_head <= 64) {
    encoder_attention_packed(kt, q, k, v, n, ns, n_head, out, pool);
  } else {
    encoder_attention_generic(q, k, v, n, ns, n_head, out, pool);
  }
}

}  // namespace

std::vector<float> whisper_encode(const WhisperModel& model, const LogMel& mel, int offset,
                                  int n_ctx, ThreadPool& pool) {
  const auto& hp = model.hparams();
  if (mel.n_mel != hp.n_mels) {
    throw Error("whisper encoder: mel has " + std::to_string(mel.n_mel) + " bins, model wants " +
                std::to_string(hp.n_mels));
  }
  if (n_ctx < 1 || n_ctx > hp.n_audio_ctx) {
    throw Error("whisper encoder: audio context " + std::to_string(n_ctx) + " out of range [1, " +
                std::to_string(hp.n_audio_ctx) + "]");
  }
  if (offset < 0) throw Error("whisper encoder: negative mel offset");
  const int64_t ns = hp.n_audio_state, nm = hp.n_mels, n = n_ctx, t_in = 2 * n;

  // Frame-major input window; frames past the spectrogram are zeros (whisper.cpp does the same).
  std::vector<float> x(static_cast<size_t>(t_in * nm), 0.0f);
  for (int64_t j = 0; j < nm; ++j) {
    for (int64_t i = 0; i < t_in && offset + i < mel.n_len; ++i) {
      x[i * nm + j] = mel.data[static_cast<size_t>(j * mel.n_len + offset + i)];
    }
  }
  const auto c1 = conv1d(model.conv1_w, model.conv1_b, x.data(), t_in, nm, 1, t_in, pool);
  auto cur = conv1d(model.conv2_w, model.conv2_b, c1.data(), t_in, ns, 2, n, pool);
  kernels::add(cur.data(), model.enc_pos.data(), n * ns, cur.data());

  const int64_t n_head = hp.n_audio_head;
  const float kq_scale = std::pow(static_cast<float>(ns / n_head), -0.25f);
  const size_t sz = static_cast<size_t>(n * ns);
  std::vector<float> h(sz), q(sz), k(sz), v(sz), a(sz), o(sz), mlp(sz * 4);
  for (const auto& L : model.enc_layers) {
    layer_norm(L.attn_ln, cur.data(), n, ns, h.data(), pool);
    linear(L.attn.q, h.data(), n, q.data(), pool);
    linear(L.attn.k, h.data(), n, k.data(), pool);
    linear(L.attn.v, h.data(), n, v.data(), pool);
    kernels::scale(q.data(), kq_scale, n * ns, q.data());
    kernels::scale(k.data(), kq_scale, n * ns, k.data());
    encoder_attention(q.data(), k.data(), v.data(), n, ns, n_head, a.data(), pool);
    linear(L.attn.o, a.data(), n, o.data(), pool);
    kernels::add(cur.data(), o.data(), n * ns, cur.data());

    layer_norm(L.mlp_ln, cur.data(), n, ns, h.data(), pool);
    linear(L.fc1, h.data(), n, mlp.data(), pool);
    gelu(mlp.data(), n * ns * 4, pool);
    linear(L.fc2, mlp.data(), n, o.data(), pool);
    kernels::add(cur.data(), o.data(), n * ns, cur.data());
  }
  layer_norm(model.ln_post, cur.data(), n, ns, cur.data(), pool);
  return cur;
}

}  // namespace omni::asr
