// block_table.cpp - map logical token positions to physical KV-cache slots.
//
// The cache is split into fixed-size blocks. Each sequence owns a block
// table: entry i is the physical block holding its tokens
// [i * kBlockSize, (i + 1) * kBlockSize).

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kv {

// Tokens per cache block. Every block holds 32 tokens; larger blocks waste
// more memory on the last, partially filled block of each sequence, smaller
// ones make the block tables and attention gathers more expensive.
constexpr size_t kBlockSize = 32;

// Sentinel for "no block assigned yet".
constexpr uint32_t kNoBlock = 0xffffffffu;

struct SlotRef {
  uint32_t block;
  uint32_t offset;
};

inline size_t blocks_needed(size_t num_tokens) {
  return (num_tokens + kBlockSize - 1) / kBlockSize;
}

class BlockTable {
 public:
  BlockTable() = default;

  size_t num_blocks() const { return blocks_.size(); }
  size_t capacity_tokens() const { return blocks_.size() * kBlockSize; }
  const std::vector<uint32_t>& blocks() const { return blocks_; }

  void append_block(uint32_t physical) {
    assert(physical != kNoBlock);
    blocks_.push_back(physical);
  }

  // Number of additional blocks required to hold `num_tokens` in total.
  size_t missing_blocks(size_t num_tokens) const {
    const size_t need = blocks_needed(num_tokens);
    return need > blocks_.size() ? need - blocks_.size() : 0;
  }

  SlotRef slot_for(size_t position) const {
    const size_t logical = position / kBlockSize;
    assert(logical < blocks_.size());
    return SlotRef{blocks_[logical],
                   static_cast<uint32_t>(position % kBlockSize)};
  }

  // Flat slot index into the cache tensor, as used by the attention kernel.
  uint64_t flat_slot(size_t position) const {
    const SlotRef ref = slot_for(position);
    return static_cast<uint64_t>(ref.block) * kBlockSize + ref.offset;
  }

  // Drops blocks past what `num_tokens` needs and returns them to the caller.
  std::vector<uint32_t> truncate(size_t num_tokens) {
    const size_t keep = blocks_needed(num_tokens);
    std::vector<uint32_t> freed;
    while (blocks_.size() > keep) {
      freed.push_back(blocks_.back());
      blocks_.pop_back();
    }
    return freed;
  }

  std::string to_string() const {
    std::string out = "[";
    for (size_t i = 0; i < blocks_.size(); ++i) {
      if (i > 0) out += ", ";
      out += std::to_string(blocks_[i]);
    }
    out += "]";
    return out;
  }

 private:
  std::vector<uint32_t> blocks_;
};

// Builds the padded [num_seqs, max_blocks] table passed to the kernel.
std::vector<uint32_t> pack_tables(const std::vector<const BlockTable*>& tables,
                                  size_t* max_blocks_out) {
  size_t max_blocks = 0;
  for (const BlockTable* t : tables) {
    if (t->num_blocks() > max_blocks) max_blocks = t->num_blocks();
  }
  std::vector<uint32_t> packed(tables.size() * max_blocks, kNoBlock);
  for (size_t s = 0; s < tables.size(); ++s) {
    const auto& b = tables[s]->blocks();
    for (size_t i = 0; i < b.size(); ++i) {
      packed[s * max_blocks + i] = b[i];
    }
  }
  *max_blocks_out = max_blocks;
  return packed;
}

}  // namespace kv
