#include "kernels/matmul.h"

#include <algorithm>

#include "base/check.h"

namespace glint::kernels {
namespace {

// Below this many activation elements, waking the pool for the quantization
// costs more than quantizing on the calling thread.
constexpr int64_t kParallelQuantizeMin = 1 << 14;

// Rows are handed to threads in multiples of this, so that no two threads
// write the same cache line of y (16 floats = 64 bytes).
constexpr int64_t kRowGrain = 16;

// Weight bytes of a row tile in the multi-token loop: small enough to stay
// in L1 (48 KB here) while it is dotted against every token, whose
// activations stream from L2.
constexpr size_t kRowTileBytes = 16 * 1024;

// Runs fn(begin, end) over [0, n) split across the pool (or inline).
template <typename Fn>
void ParallelRange(ThreadPool* pool, int64_t n, Fn&& fn) {
  if (pool == nullptr || pool->size() <= 1 || n <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  pool->ParallelFor(n, fn);
}

void DotRows(const TypeKernels& tk, const uint8_t* w, size_t w_row_bytes, int64_t r0, int64_t r1,
             const QuantizedActivations& xq, float* y, int64_t y_stride) {
  const auto* act = static_cast<const uint8_t*>(xq.data);
  const int64_t n = xq.n_cols;
  if (xq.n_tokens == 1) {
    const VecDotFn dot = tk.DotFor(xq.ref_batch, xq.ref_first);
    for (int64_t r = r0; r < r1; ++r) y[r] = dot(n, w + r * w_row_bytes, act);
    return;
  }
  // Tile rows so that a tile stays in L1 across all tokens.
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kRowTileBytes / w_row_bytes));
  for (int64_t rt = r0; rt < r1; rt += tile) {
    const int64_t rt_end = std::min(r1, rt + tile);
    for (int64_t t = 0; t < xq.n_tokens; ++t) {
      const VecDotFn dot = tk.DotFor(xq.ref_batch, xq.ref_first + t);
      const uint8_t* xt = act + t * xq.row_bytes;
      float* yt = y + t * y_stride;
      for (int64_t r = rt; r < rt_end; ++r) yt[r] = dot(n, w + r * w_row_bytes, xt);
    }
  }
}

}  // namespace

QuantizedActivations QuantizeActivations(const KernelTable& k, DType weight_type, const float* x,
                                         int64_t n_cols, int64_t n_tokens, ThreadPool* pool,
                                         MatMulScratch* scratch) {
  const DType act_type = k[weight_type].vec_dot_type;
  QuantizedActivations q;
  q.type = act_type;
  q.n_cols = n_cols;
  q.n_tokens = n_tokens;
  q.ref_batch = scratch->ref_batch;
  q.ref_first = scratch->ref_first;
  q.row_bytes = RowBytes(act_type, n_cols);
  if (act_type == DType::kF32) {
    q.data = x;
    return q;
  }
  const QuantizeRowFn quantize = k[act_type].quantize;
  CHECK(quantize != nullptr);
  const int64_t block = GetDTypeInfo(act_type).block_size;
  CHECK(n_cols % block == 0);
  const size_t bytes = q.row_bytes * static_cast<size_t>(n_tokens);
  if (scratch->act.size() < bytes) scratch->act.Resize(bytes);
  uint8_t* dst = scratch->act.data();
  q.data = dst;

  const int64_t blocks_per_row = n_cols / block;
  const size_t block_bytes = GetDTypeInfo(act_type).block_bytes;
  auto quantize_blocks = [&](int64_t b0, int64_t b1) {
    // [b0, b1) indexes blocks over all tokens, row-major.
    while (b0 < b1) {
      const int64_t t = b0 / blocks_per_row;
      const int64_t in_row = b0 % blocks_per_row;
      const int64_t count = std::min(b1 - b0, blocks_per_row - in_row);
      quantize(x + t * n_cols + in_row * block,
               dst + t * q.row_bytes + static_cast<size_t>(in_row) * block_bytes, count * block);
      b0 += count;
    }
  };
  const int64_t total_blocks = blocks_per_row * n_tokens;
  if (n_cols * n_tokens < kParallelQuantizeMin) {
    quantize_blocks(0, total_blocks);
  } else {
    ParallelRange(pool, total_blocks, quantize_blocks);
  }
  return q;
}

void MatMulQuantized(const KernelTable& k, DType type, const void* w, int64_t n_rows,
                     const QuantizedActivations& xq, float* y, int64_t y_stride,
                     ThreadPool* pool) {
  const TypeKernels& tk = k[type];
  CHECK(tk.vec_dot != nullptr);
  CHECK(xq.type == tk.vec_dot_type);
  const size_t w_row_bytes = RowBytes(type, xq.n_cols);
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t n_units = (n_rows + kRowGrain - 1) / kRowGrain;
  ParallelRange(pool, n_units, [&](int64_t u0, int64_t u1) {
    const int64_t r0 = u0 * kRowGrain;
    const int64_t r1 = std::min(n_rows, u1 * kRowGrain);
    DotRows(tk, wb, w_row_bytes, r0, r1, xq, y, y_stride);
  });
}

void MatMul(const KernelTable& k, DType type, const void* w, int64_t n_rows, int64_t n_cols,
            const float* x, int64_t n_tokens, float* y, int64_t y_stride, ThreadPool* pool,
            MatMulScratch* scratch) {
  const QuantizedActivations xq =
      QuantizeActivations(k, type, x, n_cols, n_tokens, pool, scratch);
  MatMulQuantized(k, type, w, n_rows, xq, y, y_stride, pool);
}

}  // namespace glint::kernels
