// token_history.cpp - fixed-capacity history of recent tokens.
//
// The repetition penalty only looks at the last N generated tokens, so we
// keep them in a ring buffer instead of scanning the whole sequence.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace sampling {

template <typename T>
class RingBuffer {
 public:
  explicit RingBuffer(size_t capacity) : data_(capacity), head_(0), size_(0) {
    if (capacity == 0) {
      throw std::invalid_argument("RingBuffer capacity must be positive");
    }
  }

  size_t capacity() const { return data_.size(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == data_.size(); }

  // Appends a value, overwriting the oldest one when full.
  void push(const T& value) {
    data_[head_] = value;
    head_ = (head_ + 1) % data_.size();
    if (size_ < data_.size()) {
      ++size_;
    }
  }

  // Element i in insertion order: at(0) is the oldest retained value.
  const T& at(size_t i) const {
    if (i >= size_) {
      throw std::out_of_range("RingBuffer::at index out of range");
    }
    size_t start = (head_ + data_.size() - size_) % data_.size();
    return data_[(start + i) % data_.size()];
  }

  const T& newest() const {
    if (empty()) {
      throw std::out_of_range("RingBuffer::newest on empty buffer");
    }
    return at(size_ - 1);
  }

  void clear() {
    head_ = 0;
    size_ = 0;
  }

  std::vector<T> to_vector() const {
    std::vector<T> out;
    out.reserve(size_);
    for (size_t i = 0; i < size_; ++i) {
      out.push_back(at(i));
    }
    return out;
  }

 private:
  std::vector<T> data_;
  size_t head_;
  size_t size_;
};

// Applies the classic repetition penalty to every token id that occurs in
// `history`: positive logits are divided by `penalty`, negative ones
// multiplied, so repeated tokens always become less likely.
void apply_repetition_penalty(const RingBuffer<int32_t>& history,
                              float penalty, std::vector<float>* logits) {
  if (penalty == 1.0f || history.empty()) {
    return;
  }
  std::unordered_map<int32_t, int> seen;
  for (size_t i = 0; i < history.size(); ++i) {
    seen[history.at(i)]++;
  }
  for (const auto& kv : seen) {
    const int32_t tok = kv.first;
    if (tok < 0 || static_cast<size_t>(tok) >= logits->size()) {
      continue;
    }
    float& l = (*logits)[tok];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

// Number of times the newest token appears in a row at the end of history.
size_t trailing_run_length(const RingBuffer<int32_t>& history) {
  if (history.empty()) {
    return 0;
  }
  const int32_t last = history.newest();
  size_t run = 0;
  for (size_t i = history.size(); i > 0; --i) {
    if (history.at(i - 1) != last) {
      break;
    }
    ++run;
  }
  return run;
}

}  // namespace sampling
