#include "vision/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace omni::vision {
namespace {

Image blank(int w, int h, std::array<uint8_t, 3> c) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  for (size_t i = 0; i < img.rgb.size(); i += 3) std::memcpy(&img.rgb[i], c.data(), 3);
  return img;
}

std::vector<float> normalize(const Image& img, int x0, int y0, int s, const PreprocessConfig& cfg) {
  std::vector<float> out(static_cast<size_t>(3) * s * s);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < s; ++y) {
      for (int x = 0; x < s; ++x) {
        const float v = static_cast<float>(img.pixel(x0 + x, y0 + y)[c]) / 255.0f;
        out[(static_cast<size_t>(c) * s + y) * s + x] = (v - cfg.mean[c]) / cfg.std[c];
      }
    }
  }
  return out;
}

// The cubic through the samples at -1, 0, +1, +2 evaluated at d in [0, 1); coefficients in
// double, stored as float, as llama.cpp computes them.
float cubic(float p_1, float p0, float p1, float p2, float d) {
  const float d0 = p_1 - p0, d2 = p1 - p0, d3 = p2 - p0;
  const float a0 = p0;
  const float a1 = static_cast<float>(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
  const float a2 = static_cast<float>(1.0 / 2 * d0 + 1.0 / 2 * d2);
  const float a3 = static_cast<float>(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
  return a0 + a1 * d + a2 * d * d + a3 * d * d * d;
}

}  // namespace

Image resize_bicubic(const Image& src, int w, int h) {
  Image dst = blank(w, h, {0, 0, 0});
  const float tx = static_cast<float>(src.width) / static_cast<float>(w);
  const float ty = static_cast<float>(src.height) / static_cast<float>(h);
  // Horizontal pass over every source row once (each output row reads four of them), then the
  // vertical pass; the arithmetic per value is the same as interpolating pixel by pixel.
  std::vector<int> xs(static_cast<size_t>(w));
  std::vector<float> dxs(static_cast<size_t>(w));
  for (int j = 0; j < w; ++j) {
    xs[static_cast<size_t>(j)] = static_cast<int>(tx * static_cast<float>(j));
    dxs[static_cast<size_t>(j)] = tx * static_cast<float>(j) - static_cast<float>(xs[static_cast<size_t>(j)]);
  }
  const size_t row = static_cast<size_t>(w) * 3;
  std::vector<float> hrows(static_cast<size_t>(src.height) * row);
  for (int z = 0; z < src.height; ++z) {
    float* out = hrows.data() + static_cast<size_t>(z) * row;
    for (int j = 0; j < w; ++j) {
      const int x = xs[static_cast<size_t>(j)];
      const uint8_t* p[4];
      for (int k = 0; k < 4; ++k) p[k] = src.pixel(std::clamp(x - 1 + k, 0, src.width - 1), z);
      for (int c = 0; c < 3; ++c) {
        out[static_cast<size_t>(j) * 3 + static_cast<size_t>(c)] =
            cubic(p[0][c], p[1][c], p[2][c], p[3][c], dxs[static_cast<size_t>(j)]);
      }
    }
  }
  for (int i = 0; i < h; ++i) {
    const int y = static_cast<int>(ty * static_cast<float>(i));
    const float dy = ty * static_cast<float>(i) - static_cast<float>(y);
    const float* r[4];
    for (int k = 0; k < 4; ++k) {
      r[k] = hrows.data() + static_cast<size_t>(std::clamp(y - 1 + k, 0, src.height - 1)) * row;
    }
    uint8_t* out = dst.pixel(0, i);
    for (size_t e = 0; e < row; ++e) {
      const float v = cubic(r[0][e], r[1][e], r[2][e], r[3][e], dy);
      out[e] = static_cast<uint8_t>(std::min(std::max(std::round(v), 0.0f), 255.0f));
    }
  }
  return dst;
}

Image resize_bilinear(const Image& src, int w, int h) {
  Image dst = blank(w, h, {0, 0, 0});
  // Corner-aligned: destination 0 and w-1 land on source 0 and width-1.
  const float xr = w > 1 ? static_cast<float>(src.width - 1) / static_cast<float>(w - 1) : 0.0f;
  const float yr = h > 1 ? static_cast<float>(src.height - 1) / static_cast<float>(h - 1) : 0.0f;
  auto lerp = [](float s, float e, float t) { return s + (e - s) * t; };
  for (int y = 0; y < h; ++y) {
    const float py = yr * static_cast<float>(y);
    const int y0 = std::min(static_cast<int>(py), src.height - 1);
    const int y1 = std::min(y0 + 1, src.height - 1);
    const float fy = py - static_cast<float>(y0);
    for (int x = 0; x < w; ++x) {
      const float px = xr * static_cast<float>(x);
      const int x0 = std::min(static_cast<int>(px), src.width - 1);
      const int x1 = std::min(x0 + 1, src.width - 1);
      const float fx = px - static_cast<float>(x0);
      for (int c = 0; c < 3; ++c) {
        const float top = lerp(src.pixel(x0, y0)[c], src.pixel(x1, y0)[c], fx);
        const float bottom = lerp(src.pixel(x0, y1)[c], src.pixel(x1, y1)[c], fx);
        dst.pixel(x, y)[c] = static_cast<uint8_t>(lerp(top, bottom, fy));
      }
    }
  }
  return dst;
}

Image resize_pad(const Image& src, int w, int h, std::array<uint8_t, 3> pad) {
  const float s = std::min(static_cast<float>(w) / static_cast<float>(src.width),
                           static_cast<float>(h) / static_cast<float>(src.height));
  const int nw = std::max(1, std::min(static_cast<int>(std::ceil(static_cast<float>(src.width) * s)), w));
  const int nh = std::max(1, std::min(static_cast<int>(std::ceil(static_cast<float>(src.height) * s)), h));
  const Image r = resize_bicubic(src, nw, nh);
  Image dst = blank(w, h, pad);
  const int ox = (w - nw) / 2, oy = (h - nh) / 2;
  for (int y = 0; y < nh; ++y) {
    std::memcpy(dst.pixel(ox, oy + y), r.pixel(0, y), static_cast<size_t>(nw) * 3);
  }
  return dst;
}

VisionInput preprocess(const Image& img, const PreprocessConfig& cfg) {
  if (img.empty()) throw Error("preprocess: empty image");
  const int S = cfg.image_size;
  VisionInput in;
  in.size = S;
  switch (cfg.projector) {
    case ProjectorType::kMlp: {
      std::array<uint8_t, 3> pad{};
      for (int c = 0; c < 3; ++c) pad[c] = static_cast<uint8_t>(std::clamp(cfg.mean[c] * 255.0f, 0.0f, 255.0f));
      in.tiles.push_back(normalize(resize_pad(img, S, S, pad), 0, 0, S, cfg));
      break;
    }
    case ProjectorType::kIdefics3: {
      const int longest = cfg.preproc_image_size > 0 ? cfg.preproc_image_size : 4 * S;
      const float s = std::min(static_cast<float>(longest) / static_cast<float>(img.width),
                               static_cast<float>(longest) / static_cast<float>(img.height));
      auto refine = [&](int side) {
        const int n = static_cast<int>(std::ceil(static_cast<float>(side) * s / static_cast<float>(S)));
        return std::max(1, n) * S;
      };
      const int rw = refine(img.width), rh = refine(img.height);
      const Image refined = resize_pad(img, rw, rh, {0, 0, 0});
      in.grid_cols = rw / S;
      in.grid_rows = rh / S;
      for (int r = 0; r < in.grid_rows; ++r) {
        for (int c = 0; c < in.grid_cols; ++c) in.tiles.push_back(normalize(refined, c * S, r * S, S, cfg));
      }
      in.tiles.push_back(normalize(resize_bilinear(img, S, S), 0, 0, S, cfg));
      break;
    }
  }
  return in;
}

}  // namespace omni::vision
