// sequence.cc - per-request generation state tracked by the scheduler.
//
// A Sequence owns the prompt and generated token ids for one request, the
// list of KV-cache blocks it holds, and the bookkeeping the scheduler needs to
// decide when to stop, preempt or resume it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace serving {

enum class SeqStatus {
  kWaiting,
  kRunning,
  kPreempted,
  kFinished,
};

const char* to_string(SeqStatus s) {
  switch (s) {
    case SeqStatus::kWaiting: return "waiting";
    case SeqStatus::kRunning: return "running";
    case SeqStatus::kPreempted: return "preempted";
    case SeqStatus::kFinished: return "finished";
  }
  return "unknown";
}

class Sequence {
 public:
  Sequence(uint64_t id, std::vector<int32_t> prompt, size_t max_new_tokens)
      : id_(id),
        tokens_(std::move(prompt)),
        prompt_len_(tokens_.size()),
        max_new_tokens_(max_new_tokens),
        num_generated_(0),
        status_(SeqStatus::kWaiting) {}

  uint64_t id() const { return id_; }
  SeqStatus status() const { return status_; }
  size_t prompt_len() const { return prompt_len_; }
  size_t num_tokens() const { return tokens_.size(); }
  size_t num_generated() const { return num_generated_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::vector<uint32_t>& blocks() const { return blocks_; }

  bool is_finished() const { return status_ == SeqStatus::kFinished; }

  void start() {
    if (status_ == SeqStatus::kWaiting || status_ == SeqStatus::kPreempted) {
      status_ = SeqStatus::kRunning;
    }
  }

  // Appends a sampled token; returns true when the sequence is now finished.
  bool append(int32_t token, int32_t eos_token) {
    tokens_.push_back(token);
    ++num_generated_;
    if (token == eos_token || num_generated_ >= max_new_tokens_) {
      status_ = SeqStatus::kFinished;
      return true;
    }
    return false;
  }

  void add_block(uint32_t block) { blocks_.push_back(block); }

  // Releases all cache blocks and moves the sequence back to the queue. The
  // generated tokens are kept so the prefix can be recomputed on resume.
  std::vector<uint32_t> preempt() {
    std::vector<uint32_t> freed;
    freed.swap(blocks_);
    status_ = SeqStatus::kPreempted;
    return freed;
  }

  std::vector<uint32_t> finish() {
    std::vector<uint32_t> freed;
    freed.swap(blocks_);
    status_ = SeqStatus::kFinished;
    return freed;
  }

  std::string debug_string() const {
    std::string out = "seq#" + std::to_string(id_);
    out += " status=";
    out += to_string(status_);
    out += " prompt=" + std::to_string(prompt_len_);
    out += " generated=" + std::to_string(num_generated_);
    out += " blocks=" + std::to_string(blocks_.size());
    return out;
  }

 private:
  uint64_t id_;
  std::vector<int32_t> tokens_;
  size_t prompt_len_;
  size_t max_new_tokens_;
  size_t num_generated_;
  SeqStatus status_;
  std::vector<uint32_t> blocks_;
};

}  // namespace serving
