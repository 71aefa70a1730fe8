// block_allocator.cpp - physical KV-cache block pool with prefix sharing.
//
// Blocks are reference counted so that sequences with a common prompt prefix
// can share the blocks holding it. Full blocks are also registered under a
// hash of their contents; when a new request's prefix hashes to a known block
// we reuse it instead of recomputing attention keys and values.

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace kv {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

static LogLevel g_min_level = LogLevel::kInfo;

static void log_line(LogLevel level, const char* fmt, ...) {
  if (level < g_min_level) {
    return;
  }
  static const char* const kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::fprintf(stderr, "[kv %s] ", kNames[static_cast<int>(level)]);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
}

void set_log_level(LogLevel level) { g_min_level = level; }

using BlockId = uint32_t;

struct BlockInfo {
  uint32_t ref_count = 0;
  uint64_t content_hash = 0;
  bool hashed = false;
  uint64_t last_used = 0;
};

struct AllocatorStats {
  size_t total = 0;
  size_t free = 0;
  size_t cached = 0;
  uint64_t prefix_hits = 0;
  uint64_t prefix_misses = 0;
  uint64_t evictions = 0;
};

class BlockAllocator {
 public:
  explicit BlockAllocator(size_t num_blocks) : info_(num_blocks) {
    if (num_blocks == 0) {
      throw std::invalid_argument("BlockAllocator needs at least one block");
    }
    free_.reserve(num_blocks);
    for (size_t i = num_blocks; i > 0; --i) {
      free_.push_back(static_cast<BlockId>(i - 1));
    }
    log_line(LogLevel::kInfo, "allocator ready with %zu blocks", num_blocks);
  }

  size_t num_free() const { return free_.size() + evictable_count(); }
  size_t num_total() const { return info_.size(); }

  // Allocates `n` fresh blocks with ref_count 1. Either all `n` blocks are
  // returned or none are (and the pool is left untouched).
  std::optional<std::vector<BlockId>> allocate(size_t n) {
    if (n > num_free()) {
      log_line(LogLevel::kWarn, "kv cache exhausted: requested %zu blocks, %zu free", n, num_free());
      return std::nullopt;
    }
    std::vector<BlockId> out;
    out.reserve(n);
    while (out.size() < n) {
      if (free_.empty()) {
        evict_one();
      }
      const BlockId id = free_.back();
      free_.pop_back();
      BlockInfo& b = info_[id];
      b.ref_count = 1;
      b.hashed = false;
      b.last_used = ++clock_;
      out.push_back(id);
    }
    return out;
  }

  // Adds a reference to a block that is already in use (prefix sharing).
  void retain(BlockId id) {
    BlockInfo& b = at(id);
    if (b.ref_count == 0 && !b.hashed) {
      throw std::logic_error("retain on a free block");
    }
    if (b.ref_count == 0) {
      --evictable_;
    }
    ++b.ref_count;
    b.last_used = ++clock_;
  }

  // Drops a reference. Unhashed blocks go straight back to the free list;
  // hashed blocks stay cached (evictable) until the pool runs dry.
  void release(BlockId id) {
    BlockInfo& b = at(id);
    if (b.ref_count == 0) {
      throw std::logic_error("release of a block with ref_count 0");
    }
    if (--b.ref_count > 0) {
      return;
    }
    if (b.hashed) {
      ++evictable_;
    } else {
      free_.push_back(id);
    }
  }

  void release_all(const std::vector<BlockId>& ids) {
    for (BlockId id : ids) {
      release(id);
    }
  }

  // Registers a full block under the hash of its token contents.
  void publish(BlockId id, uint64_t content_hash) {
    BlockInfo& b = at(id);
    if (b.hashed) {
      return;
    }
    auto it = by_hash_.find(content_hash);
    if (it != by_hash_.end()) {
      // Another block already caches these contents; keep the older one.
      return;
    }
    b.hashed = true;
    b.content_hash = content_hash;
    by_hash_.emplace(content_hash, id);
  }

  // Looks up a cached block by content hash and takes a reference to it.
  std::optional<BlockId> lookup(uint64_t content_hash) {
    auto it = by_hash_.find(content_hash);
    if (it == by_hash_.end()) {
      ++prefix_misses_;
      return std::nullopt;
    }
    ++prefix_hits_;
    retain(it->second);
    return it->second;
  }

  AllocatorStats stats() const {
    AllocatorStats s;
    s.total = info_.size();
    s.free = free_.size();
    s.cached = by_hash_.size();
    s.prefix_hits = prefix_hits_;
    s.prefix_misses = prefix_misses_;
    s.evictions = evictions_;
    return s;
  }

  uint32_t ref_count(BlockId id) const { return at(id).ref_count; }

 private:
  BlockInfo& at(BlockId id) {
    if (id >= info_.size()) {
      throw std::out_of_range("block id out of range");
    }
    return info_[id];
  }

  const BlockInfo& at(BlockId id) const {
    if (id >= info_.size()) {
      throw std::out_of_range("block id out of range");
    }
    return info_[id];
  }

  size_t evictable_count() const { return evictable_; }

  // Evicts the least recently used cached block with no references.
  void evict_one() {
    BlockId victim = 0;
    uint64_t oldest = UINT64_MAX;
    bool found = false;
    for (const auto& kv : by_hash_) {
      const BlockInfo& b = info_[kv.second];
      if (b.ref_count == 0 && b.last_used < oldest) {
        oldest = b.last_used;
        victim = kv.second;
        found = true;
      }
    }
    if (!found) {
      throw std::logic_error("evict_one called with nothing evictable");
    }
    BlockInfo& b = info_[victim];
    by_hash_.erase(b.content_hash);
    b.hashed = false;
    --evictable_;
    ++evictions_;
    free_.push_back(victim);
    log_line(LogLevel::kDebug, "evicted block %u", victim);
  }

  std::vector<BlockInfo> info_;
  std::vector<BlockId> free_;
  std::unordered_map<uint64_t, BlockId> by_hash_;
  size_t evictable_ = 0;
  uint64_t clock_ = 0;
  uint64_t prefix_hits_ = 0;
  uint64_t prefix_misses_ = 0;
  uint64_t evictions_ = 0;
};

// Chains token-block hashes so a block's hash also covers everything before
// it; two sequences share block i only if their first i + 1 blocks match.
uint64_t chain_hash(uint64_t parent, const int32_t* tokens, size_t n) {
  uint64_t h = parent ^ 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<uint64_t>(static_cast<uint32_t>(tokens[i]));
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h;
}

// Reuses as many cached prefix blocks as possible for `prompt`, returning the
// shared blocks in order. Stops at the first miss or at a partial block.
std::vector<BlockId> match_prefix(BlockAllocator* alloc,
                                  const std::vector<int32_t>& prompt,
                                  size_t block_size) {
  std::vector<BlockId> shared;
  uint64_t h = 0;
  for (size_t start = 0; start + block_size <= prompt.size();
       start += block_size) {
    h = chain_hash(h, prompt.data() + start, block_size);
    std::optional<BlockId> hit = alloc->lookup(h);
    if (!hit) {
      break;
    }
    shared.push_back(*hit);
  }
  return shared;
}

}  // namespace kv
