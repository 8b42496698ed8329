// Image → words through Tesseract (its LSTM engine, C++ API): the "OCR" half of the words path,
// which lets any text-only LLM, even a remote one, read what is written in an image.
//
//   vision::Ocr ocr({.languages = "eng+kor"});
//   vision::OcrResult r = ocr.recognize(rgb, width, height);   // r.text, r.lines
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace omni::vision {

// How Tesseract splits the page into lines (its page segmentation mode).
enum class OcrLayout {
  kColumn,  // one column of lines of any size (PSM 4): the default, see below
  kAuto,    // full layout analysis, several columns (PSM 3, the tesseract CLI's default)
  kBlock,   // one uniform block of text (PSM 6)
  kSparse,  // scattered text in no particular order, e.g. labels in a photo (PSM 11)
};

struct OcrOptions {
  // Tesseract language codes joined by '+', e.g. "eng", "kor", "eng+kor".
  std::string languages = "eng+kor";
  // Folder holding <lang>.traineddata. Empty: $TESSDATA_PREFIX (the folder itself or its
  // tessdata/ subfolder), then the usual system folders (newest Tesseract version first).
  std::string tessdata;
  // Column, not Tesseract's automatic analysis, by default: on clean rendered Korean lines at
  // 32-64 px the automatic analysis drops whole lines (measured with Tesseract 5.3 and the
  // Noto CJK font: 1 of 3 lines kept at 48 px), the column mode reads them all.
  OcrLayout layout = OcrLayout::kColumn;
  // Tesseract parallelises parts of its LSTM with OpenMP, whose waiting threads spin; on two
  // busy cores a page took 5.6 s that way against 0.95 s on one thread (docs/BENCHMARKS.md,
  // "OCR"). true: OpenMP regions run on the calling thread (process-wide setting; nothing else
  // in omni uses OpenMP). false: Tesseract's own threading.
  bool single_thread = true;
};

// "column", "auto", "block", "sparse"; throws omni::Error for anything else.
OcrLayout parse_ocr_layout(const std::string& name);

struct OcrLine {
  std::string text;          // one text line, without its trailing newline
  float confidence = 0.0f;   // Tesseract's 0..100
};

struct OcrResult {
  std::string text;  // the page text, lines separated by '\n', blocks by an empty line
  std::vector<OcrLine> lines;
  float mean_confidence = 0.0f;  // 0..100 over the page's words
};

// A Tesseract instance with its language models loaded (loading takes tens of milliseconds, so
// keep one for many images). Not thread-safe: one per thread.
class Ocr {
 public:
  // Throws omni::Error naming the missing file when a language's traineddata cannot be found.
  explicit Ocr(OcrOptions options = {});
  ~Ocr();
  Ocr(const Ocr&) = delete;
  Ocr& operator=(const Ocr&) = delete;

  // `rgb`: width x height pixels, 3 bytes each (R, G, B), rows top to bottom. Throws
  // omni::Error for a buffer of the wrong size or an image over 100 megapixels.
  OcrResult recognize(std::span<const uint8_t> rgb, int width, int height);

  const std::string& tessdata_dir() const { return dir_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string dir_;
};

// One-shot convenience: loads the languages, recognizes, returns the text.
std::string ocr(std::span<const uint8_t> rgb, int width, int height,
                const std::string& languages = "eng+kor");

// The folder that holds every language of `languages` (see OcrOptions::tessdata). Throws
// omni::Error listing the folders tried when none does.
std::string find_tessdata(const std::string& languages, const std::string& override_dir = "");

}  // namespace omni::vision
