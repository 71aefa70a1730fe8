#include "cli/model_loading.h"

#include <cstdio>

#include "base/clock.h"
#include "engine/catalog.h"

namespace glint::cli {
namespace {

// Moves the value of `r` into `out`, or prints its error and returns false.
template <typename T>
bool TakeOrExplain(Result<T> r, T* out, const std::string& context = "") {
  if (!r.ok()) {
    Status st = context.empty() ? r.status() : r.status().WithContext(context);
    std::fprintf(stderr, "glint: %s\n", st.message().c_str());
    return false;
  }
  *out = std::move(r).value();
  return true;
}

std::string TokenizerContext(const std::string& path) {
  return "cannot load the tokenizer of '" + path + "'";
}

}  // namespace

std::unique_ptr<LoadedModel> LoadModelOrExplain(const std::string& spec) {
  auto start = Clock::now();
  auto loaded = std::make_unique<LoadedModel>();
  std::string path;
  if (!TakeOrExplain(engine::ResolveModel(spec), &path) ||
      !TakeOrExplain(model::Model::Load(path), &loaded->model) ||
      !TakeOrExplain(tokenizer::Tokenizer::FromGguf(loaded->model->file()), &loaded->tokenizer,
                     TokenizerContext(path))) {
    return nullptr;
  }
  loaded->load_s = SecondsSince(start);
  return loaded;
}

std::unique_ptr<LoadedTokenizer> LoadTokenizerOrExplain(const std::string& spec) {
  auto loaded = std::make_unique<LoadedTokenizer>();
  std::string path;
  if (!TakeOrExplain(engine::ResolveModel(spec), &path) ||
      !TakeOrExplain(gguf::GgufFile::Open(path), &loaded->file) ||
      !TakeOrExplain(tokenizer::Tokenizer::FromGguf(*loaded->file), &loaded->tokenizer,
                     TokenizerContext(path))) {
    return nullptr;
  }
  return loaded;
}

}  // namespace glint::cli
