// stb_image with the configuration every includer must share (the implementation is compiled
// once, in stb_image_impl.cc).
#pragma once

#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
// Beyond any limit a caller can set (ImageLimits::max_side), so ours is the one that applies.
#define STBI_MAX_DIMENSIONS (1 << 24)
#include <stb/stb_image.h>
