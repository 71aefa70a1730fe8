// stop_matcher.cpp - detect stop strings in streamed output text.
//
// Tokens are detokenized incrementally, and a stop string may span several
// tokens. StreamDecoder holds back a tail of text that could still be the
// start of a stop string, and only releases text once it cannot be.

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace serving {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Returns true if `text` ends with any of the stop strings.
  bool match(const std::string& text) const;

  // Length of the longest suffix of `text` that is a proper prefix of some
  // stop string; that much text must be held back from the client.
  size_t partial_suffix(const std::string& text) const;

  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  size_t max_len_ = 0;
};

StopMatcher::StopMatcher(std::vector<std::string> stops)
    : stops_(std::move(stops)) {
  stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()),
               stops_.end());
  for (const auto& s : stops_) {
    max_len_ = std::max(max_len_, s.size());
  }
}

bool StopMatcher::match(const std::string& text) const {
  for (size_t i = 0; i < stops_.size(); ++i) {
    const std::string& s = stops_[i];
    if (s.size() <= text.size() &&
        text.compare(text.size() - s.size(), s.size(), s) == 0) {
      return true;
    }
  }
  return false;
}

size_t StopMatcher::partial_suffix(const std::string& text) const {
  size_t best = 0;
  const size_t limit = std::min(text.size(), max_len_ > 0 ? max_len_ - 1 : 0);
  for (const auto& s : stops_) {
    for (size_t n = limit; n > best; --n) {
      if (n < s.size() && text.compare(text.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
    }
  }
  return best;
}

class StreamDecoder {
 public:
  explicit StreamDecoder(std::vector<std::string> stops)
      : stop_(std::move(stops)) {}

  // Feeds newly detokenized text. Returns the text that is safe to send to
  // the client now. After a stop string is seen, finished() is true and the
  // stop string itself is never returned.
  std::string push(const std::string& piece) {
    if (finished_) {
      return std::string();
    }
    pending_ += piece;
    if (stop_.match(pending_)) {
      finished_ = true;
      pending_.clear();
      return std::string();
    }
    const size_t hold = stop_.partial_suffix(pending_);
    std::string ready = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, ready.size());
    return ready;
  }

  // Called at end of generation: whatever was held back is real output.
  std::string flush() {
    std::string rest;
    rest.swap(pending_);
    return finished_ ? std::string() : rest;
  }

  bool finished() const { return finished_; }

 private:
  StopMatcher stop_;
  std::string pending_;
  bool finished_ = false;
};

}  // namespace serving
