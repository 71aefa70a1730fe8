#include "cli/model_loading.h"

#include <cstdio>

#include "base/clock.h"
#include "engine/catalog.h"

namespace glint::cli {
namespace {
void Explain(const Status& st) { std::fprintf(stderr, "glint: %s\n", st.message().c_str()); }
}  // namespace

std::unique_ptr<LoadedModel> LoadModelOrExplain(const std::string& spec) {
  auto start = Clock::now();
  auto path = engine::ResolveModel(spec);
  if (!path.ok()) {
    Explain(path.status());
    return nullptr;
  }
  auto loaded = std::make_unique<LoadedModel>();
  auto model = model::Model::Load(*path);
  if (!model.ok()) {
    Explain(model.status());
    return nullptr;
  }
  loaded->model = std::move(model).value();
  auto tok = tokenizer::Tokenizer::FromGguf(loaded->model->file());
  if (!tok.ok()) {
    Explain(tok.status().WithContext("cannot load the tokenizer of '" + *path + "'"));
    return nullptr;
  }
  loaded->tokenizer = std::move(tok).value();
  loaded->load_s = SecondsSince(start);
  return loaded;
}

std::unique_ptr<LoadedTokenizer> LoadTokenizerOrExplain(const std::string& spec) {
  auto path = engine::ResolveModel(spec);
  if (!path.ok()) {
    Explain(path.status());
    return nullptr;
  }
  auto loaded = std::make_unique<LoadedTokenizer>();
  auto file = gguf::GgufFile::Open(*path);
  if (!file.ok()) {
    Explain(file.status());
    return nullptr;
  }
  loaded->file = std::move(file).value();
  auto tok = tokenizer::Tokenizer::FromGguf(*loaded->file);
  if (!tok.ok()) {
    Explain(tok.status().WithContext("cannot load the tokenizer of '" + *path + "'"));
    return nullptr;
  }
  loaded->tokenizer = std::move(tok).value();
  return loaded;
}

}  // namespace glint::cli
