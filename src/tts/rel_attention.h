// One head of VITS' relative-position self-attention (attentions.MultiHeadAttention with
// window_size; no mask: batch 1, full length), on channel-major rows. Compiled for AVX-512 and
// for baseline x86-64 from the same source (rel_attention.inc) and picked by core/cpu.h's
// level; without fused multiply-adds or reassociation both give the same bits. With AVX-512
// and a head size that is a multiple of 16, query blocks keep their partial sums in registers
// (same order of operations, same bits).
#pragma once

namespace omni::tts {

// q, k, v, out: hd rows of t floats each (row stride t), this head's channels. emb_k, emb_v:
// [2*window+1, hd] relative embeddings. out = softmax(q k^T * scale + rel_k) (v + rel_v).
void rel_attention_head(const float* q, const float* k, const float* v, int t, int hd,
                        float scale, const float* emb_k, const float* emb_v, int window,
                        float* out);

// The same head computed by the plain baseline loops (one query at a time), for tests: the
// fast path must give the same bits.
void rel_attention_head_reference(const float* q, const float* k, const float* v, int t,
                                  int hd, float scale, const float* emb_k, const float* emb_v,
                                  int window, float* out);

}  // namespace omni::tts
