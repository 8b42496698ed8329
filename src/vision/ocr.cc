#include "vision/ocr.h"

#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace omni::vision {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_languages(const std::string& languages) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= languages.size()) {
    const size_t plus = languages.find('+', start);
    const std::string lang = languages.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
    // Language codes are file-name stems: keep them plain so they cannot point elsewhere.
    if (lang.empty() || lang.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                            std::string::npos) {
      throw Error("OCR: bad language list \"" + languages + "\" (expected codes like eng+kor)");
    }
    out.push_back(lang);
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  return out;
}

bool has_all(const fs::path& dir, const std::vector<std::string>& langs) {
  std::error_code ec;
  for (const auto& l : langs) {
    if (!fs::is_regular_file(dir / (l + ".traineddata"), ec)) return false;
  }
  return true;
}

// System folders, newest Tesseract version first (Debian: /usr/share/tesseract-ocr/<v>/tessdata).
std::vector<fs::path> system_dirs() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const char* root : {"/usr/share/tesseract-ocr", "/usr/local/share/tesseract-ocr"}) {
    std::vector<fs::path> versions;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec)) versions.push_back(it->path() / "tessdata");
    }
    std::sort(versions.rbegin(), versions.rend());
    out.insert(out.end(), versions.begin(), versions.end());
    out.push_back(fs::path(root) / "tessdata");
  }
  for (const char* d : {"/usr/share/tessdata", "/usr/local/share/tessdata", "/opt/homebrew/share/tessdata"}) {
    out.emplace_back(d);
  }
  return out;
}

// OpenMP's max-active-levels = 0 makes every parallel region run on one thread. Looked up at
// run time: libgomp is loaded as Tesseract's dependency (when it was built with OpenMP), and
// omni itself does not link it.
void openmp_single_thread() {
  using SetLevels = void (*)(int);
  if (auto* f = reinterpret_cast<SetLevels>(dlsym(RTLD_DEFAULT, "omp_set_max_active_levels"))) f(0);
}

}  // namespace

std::string find_tessdata(const std::string& languages, const std::string& override_dir) {
  const auto langs = split_languages(languages);
  std::vector<fs::path> tried;
  auto try_dir = [&](const fs::path& d) {
    tried.push_back(d);
    return has_all(d, langs);
  };
  if (!override_dir.empty()) {
    if (try_dir(override_dir)) return override_dir;
    throw Error("OCR: " + override_dir + " does not hold " + langs.front() + ".traineddata" +
                (langs.size() > 1 ? " and the other languages of " + languages : std::string()));
  }
  if (const char* env = std::getenv("TESSDATA_PREFIX"); env && *env) {
    if (try_dir(env)) return env;
    if (try_dir(fs::path(env) / "tessdata")) return (fs::path(env) / "tessdata").string();
  }
  for (const auto& d : system_dirs()) {
    if (try_dir(d)) return d.string();
  }
  std::string list;
  for (const auto& d : tried) list += (list.empty() ? "" : ", ") + d.string();
  throw Error("OCR: no folder holds the traineddata of " + languages + " (tried " + list +
              "); install tesseract-ocr-<lang> or set TESSDATA_PREFIX");
}

OcrLayout parse_ocr_layout(const std::string& name) {
  if (name == "column") return OcrLayout::kColumn;
  if (name == "auto") return OcrLayout::kAuto;
  if (name == "block") return OcrLayout::kBlock;
  if (name == "sparse") return OcrLayout::kSparse;
  throw Error("OCR: unknown layout \"" + name + "\" (column, auto, block or sparse)");
}

struct Ocr::Impl {
  tesseract::TessBaseAPI api;
};

Ocr::Ocr(OcrOptions options) : impl_(std::make_unique<Impl>()) {
  dir_ = find_tessdata(options.languages, options.tessdata);
  if (options.single_thread) openmp_single_thread();
  if (impl_->api.Init(dir_.c_str(), options.languages.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    throw Error("OCR: Tesseract could not load " + options.languages + " from " + dir_);
  }
  // Tesseract reports "Empty page!!" and resolution guesses on stderr; an image without text is
  // a normal input here, not something to print.
  impl_->api.SetVariable("debug_file", "/dev/null");
  switch (options.layout) {
    case OcrLayout::kColumn: impl_->api.SetPageSegMode(tesseract::PSM_SINGLE_COLUMN); break;
    case OcrLayout::kAuto: impl_->api.SetPageSegMode(tesseract::PSM_AUTO); break;
    case OcrLayout::kBlock: impl_->api.SetPageSegMode(tesseract::PSM_SINGLE_BLOCK); break;
    case OcrLayout::kSparse: impl_->api.SetPageSegMode(tesseract::PSM_SPARSE_TEXT); break;
  }
}

Ocr::~Ocr() { impl_->api.End(); }

OcrResult Ocr::recognize(std::span<const uint8_t> rgb, int width, int height) {
  constexpr int64_t kMaxPixels = 100'000'000;
  if (width <= 0 || height <= 0 || int64_t{width} * height > kMaxPixels) {
    throw Error("OCR: image size " + std::to_string(width) + "x" + std::to_string(height) +
                " is empty or over 100 megapixels");
  }
  if (rgb.size() != size_t(width) * size_t(height) * 3) {
    throw Error("OCR: " + std::to_string(rgb.size()) + " bytes are not " + std::to_string(width) + "x" +
                std::to_string(height) + " RGB pixels");
  }
  auto& api = impl_->api;
  api.SetImage(rgb.data(), width, height, 3, width * 3);
  api.SetSourceResolution(70);  // what Tesseract assumes for images without a resolution
  if (api.Recognize(nullptr) != 0) throw Error("OCR: Tesseract failed to recognize the image");

  OcrResult r;
  const std::unique_ptr<char[]> text(api.GetUTF8Text());
  if (text) r.text = text.get();
  while (!r.text.empty() && (r.text.back() == '\n' || r.text.back() == ' ')) r.text.pop_back();
  r.mean_confidence = static_cast<float>(std::max(0, api.MeanTextConf()));
  const std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  if (it) {
    do {
      const std::unique_ptr<char[]> line(it->GetUTF8Text(tesseract::RIL_TEXTLINE));
      if (!line) continue;
      OcrLine l;
      l.text = line.get();
      while (!l.text.empty() && (l.text.back() == '\n' || l.text.back() == ' ')) l.text.pop_back();
      if (l.text.empty()) continue;
      l.confidence = it->Confidence(tesseract::RIL_TEXTLINE);
      r.lines.push_back(std::move(l));
    } while (it->Next(tesseract::RIL_TEXTLINE));
  }
  api.Clear();
  return r;
}

std::string ocr(std::span<const uint8_t> rgb, int width, int height, const std::string& languages) {
  OcrOptions o;
  o.languages = languages;
  Ocr engine(o);
  return engine.recognize(rgb, width, height).text;
}

}  // namespace omni::vision
