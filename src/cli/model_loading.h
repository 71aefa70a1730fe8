// Loading a model and its tokenizer for the CLI, with errors that tell the
// user what to do next.
#pragma once

#include <memory>
#include <string>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace glint::cli {

struct LoadedModel {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  double load_s = 0;
};

// spec: "fast", "smart" or a path. On failure prints "glint: <reason>" to
// stderr and returns nullptr.
std::unique_ptr<LoadedModel> LoadModelOrExplain(const std::string& spec);

// Opens only the GGUF and tokenizer (for `glint tokenize`).
struct LoadedTokenizer {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};
std::unique_ptr<LoadedTokenizer> LoadTokenizerOrExplain(const std::string& spec);

}  // namespace glint::cli
