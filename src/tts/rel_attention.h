// One head of VITS' relative-position self-attention (attentions.MultiHeadAttention with
// window_size; no mask: batch 1, full length), on channel-major rows. Compiled for AVX-512 and
// for baseline x86-64 from the same source (rel_attention.inc) and picked by core/cpu.h's
// level; without fused multiply-adds or reassociation both give the same bits.
#pragma once

namespace omni::tts {

// q, k, v, out: hd rows of t floats each (row stride t), this head's channels. emb_k, emb_v:
// [2*window+1, hd] relative embeddings. out = softmax(q k^T * scale + rel_k) (v + rel_v).
void rel_attention_head(const float* q, const float* k, const float* v, int t, int hd,
                        float scale, const float* emb_k, const float* emb_v, int window,
                        float* out);

}  // namespace omni::tts
