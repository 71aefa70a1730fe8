#include "kernels/matmul.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "kernels/blocks.h"

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

// Repacking eight rows costs about as much as a few row dot products; below
// this many tokens it does not pay.
constexpr int64_t kRows8MinTokens = 8;

// Packed eight-row weights per column chunk of the eight-row kernels: well
// inside L1 with the activations passing through.
constexpr size_t kRows8ChunkBytes = 16 * 1024;

// Runs fn(begin, end) over [0, n) split across the pool (or inline).
template <typename Fn>
void ParallelRange(ThreadPool* pool, int64_t n, Fn&& fn) {
  if (pool == nullptr || pool->size() <= 1 || n <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  pool->ParallelFor(n, fn);
}

// Rows [r0, r0 + 8 * k) through the eight-row kernel: each group of eight is
// taken from the load-time packing where the type has batched kernels over
// it, or else repacked once into a per-thread buffer, and dotted against
// every token that takes the batched order (the others: the single-row
// vec_dot). The packed rows are walked in column chunks that stay in L1
// while every token passes over them; each token's partial sums wait in
// `state` in between. Returns the first row left over.
int64_t DotRows8(const TypeKernels& tk, const uint8_t* w, size_t w_row_bytes, int64_t r0,
                 int64_t r1, const QuantizedActivations& xq, float* y, int64_t y_stride,
                 const void* packed8, bool prefetch_groups) {
  const int64_t n = xq.n_cols;
  const int64_t r8_end = r0 + (r1 - r0) / 8 * 8;
  const DTypeInfo& act_info = GetDTypeInfo(xq.type);
  const int64_t n_blocks = n / act_info.block_size;
  const bool preset = packed8 != nullptr && tk.packed8_dot_batched != nullptr;
  const size_t block_bytes = preset ? tk.packed8_block_bytes : tk.rows8_block_bytes;
  const VecDotRows8Fn dot1 = preset ? tk.packed8_dot_batched : tk.rows8_dot_batched;
  const VecDotRows8X2Fn dot2 = preset ? tk.packed8_dot_batched_x2 : tk.rows8_dot_batched_x2;
  const VecDotRows8X2Fn dot4 = preset ? tk.packed8_dot_batched_x4 : nullptr;
  const size_t group_bytes = static_cast<size_t>(n_blocks) * block_bytes;
  const int64_t chunk =
      std::max<int64_t>(1, static_cast<int64_t>(kRows8ChunkBytes / block_bytes));
  // Both grow to the largest matrix once per thread; later calls reuse them.
  thread_local AlignedBuffer<uint8_t> packed;
  thread_local AlignedBuffer<float> state;  // [n_tokens][16]
  if (!preset && packed.size() < group_bytes) packed.Resize(group_bytes);
  if (state.size() < static_cast<size_t>(16 * xq.n_tokens)) state.Resize(16 * xq.n_tokens);
  const auto* act = static_cast<const uint8_t*>(xq.data);
  for (int64_t r = r0; r < r8_end; r += 8) {
    const uint8_t* group;
    if (preset) {
      group = static_cast<const uint8_t*>(packed8) + static_cast<size_t>(r / 8) * group_bytes;
    } else {
      tk.rows8_repack(n, w + r * w_row_bytes, w_row_bytes, packed.data());
      group = packed.data();
    }
    // The next eight rows into L2 while this group serves every token.
    if (prefetch_groups && r + 16 <= r8_end) {
      const uint8_t* next = preset ? group + group_bytes : w + (r + 8) * w_row_bytes;
      const size_t next_bytes = preset ? group_bytes : 8 * w_row_bytes;
      for (size_t b = 0; b < next_bytes; b += 64) __builtin_prefetch(next + b, 0, 2);
    }
    std::fill(state.data(), state.data() + 16 * xq.n_tokens, 0.0f);
    for (int64_t c = 0; c < n_blocks; c += chunk) {
      const int64_t len = std::min(chunk, n_blocks - c);
      const uint8_t* pc = group + c * block_bytes;
      for (int64_t t = 0; t < xq.n_tokens; ++t) {
        if (tk.DotFor(xq.ref_batch, xq.ref_first + t) != tk.vec_dot_batched) continue;
        const uint8_t* at = act + t * xq.row_bytes + c * act_info.block_bytes;
        // (The tokens in the batched order form one interval: its ends
        // tell.)
        if (dot4 != nullptr && t + 3 < xq.n_tokens &&
            tk.DotFor(xq.ref_batch, xq.ref_first + t + 3) == tk.vec_dot_batched) {
          dot4(len * act_info.block_size, pc, at, xq.row_bytes, state.data() + 16 * t);
          t += 3;
          continue;
        }
        if (dot2 != nullptr && t + 1 < xq.n_tokens &&
            tk.DotFor(xq.ref_batch, xq.ref_first + t + 1) == tk.vec_dot_batched) {
          dot2(len * act_info.block_size, pc, at, xq.row_bytes, state.data() + 16 * t);
          ++t;
          continue;
        }
        dot1(len * act_info.block_size, pc, at, state.data() + 16 * t);
      }
    }
    for (int64_t t = 0; t < xq.n_tokens; ++t) {
      const VecDotFn dot = tk.DotFor(xq.ref_batch, xq.ref_first + t);
      const uint8_t* xt = act + t * xq.row_bytes;
      float* yt = y + t * y_stride + r;
      const float* st = state.data() + 16 * t;
      if (dot == tk.vec_dot_batched) {
        // (Through a local array: yt and st may alias as far as the
        // compiler knows, which kept the subtractions scalar.)
        float d[8];
        for (int j = 0; j < 8; ++j) d[j] = st[j] - st[8 + j];
        std::memcpy(yt, d, sizeof(d));
      } else {
        for (int j = 0; j < 8; ++j) yt[j] = dot(n, w + (r + j) * w_row_bytes, xt);
      }
    }
  }
  return r8_end;
}

// Rows [r0, r1) of y = w x with k's prefetch settings (tk = k[type]).
void DotRows(const TypeKernels& tk, const uint8_t* w, size_t w_row_bytes, int64_t r0, int64_t r1,
             const QuantizedActivations& xq, float* y, int64_t y_stride, const void* packed8,
             const KernelTable& k) {
  const size_t prefetch = tk.prefetch_bytes;
  const auto* act = static_cast<const uint8_t*>(xq.data);
  const int64_t n = xq.n_cols;
  // Tokens in the single-token order (decode, a draft, sequences decoded
  // together, a prompt of a type without a batched order) over the
  // load-time packing: eight rows per call, against one token or up to
  // eight (r0 is a multiple of the grain, r1 too or the row count, itself a
  // multiple of 8).
  const bool single_order = tk.DotFor(xq.ref_batch, xq.ref_first) == tk.vec_dot &&
                            tk.DotFor(xq.ref_batch, xq.ref_first + xq.n_tokens - 1) == tk.vec_dot;
  if (packed8 != nullptr && single_order && tk.packed8_dot != nullptr &&
      (xq.n_tokens == 1 ||
       (tk.packed8_dot_xn != nullptr && (xq.scales != nullptr || xq.type == DType::kQ8_K)))) {
    DCHECK(r0 % 8 == 0 && r1 % 8 == 0);
    const size_t group_bytes =
        static_cast<size_t>(n / GetDTypeInfo(xq.type).block_size) * tk.packed8_block_bytes;
    const auto* p = static_cast<const uint8_t*>(packed8);
    const size_t end = static_cast<size_t>(r1 / 8) * group_bytes;
    // One token streams each group once: fetch `prefetch` bytes ahead into
    // L1 (or nothing). Several tokens reuse each group: the next one, which
    // gained on both vendors (the strided block headers waited on memory),
    // into L1 or L2 as the CPU prefers. Into L1, where the kernel takes
    // `next` and one call serves each group (up to eight tokens: sequences
    // decoded together), the kernel fetches the next group a few lines at
    // each step of its main loop: a burst before the call waited on the L1
    // fill buffers (8 sequences 1.05-1.14x on a Sapphire Rapids VM, and
    // 1.05x again against fetching block i as its prologue reaches block
    // i, a burst of its own), while for more
    // tokens the burst before the first of the group's calls cost less
    // than prefetching from every call (fast pp512 0.96-0.99x).
    const bool one = xq.n_tokens == 1;
    const bool spread = !one && xq.n_tokens <= 8 && tk.packed8_xn_prefetches_next &&
                        k.prefetch_groups_to_l1;
    const size_t ahead = one ? prefetch : spread ? 0 : group_bytes;
    for (int64_t r = r0; r < r1; r += 8) {
      const size_t at = static_cast<size_t>(r / 8) * group_bytes;
      for (size_t b = at + ahead; ahead != 0 && b < at + ahead + group_bytes && b < end;
           b += 64) {
        if (one || k.prefetch_groups_to_l1) {
          __builtin_prefetch(p + b, 0, 3);
        } else {
          __builtin_prefetch(p + b, 0, 2);
        }
      }
      for (int64_t t = 0; t < xq.n_tokens; t += 8) {
        const int m = static_cast<int>(std::min<int64_t>(8, xq.n_tokens - t));
        float* yt = y + t * y_stride + r;
        const void* next = spread && at + group_bytes < end ? p + at + group_bytes : nullptr;
        if (m == 1) {
          tk.packed8_dot(n, p + at, act + t * xq.row_bytes, yt);
        } else {
          // (Q8_K activations carry their scales in their blocks.)
          if (xq.scales != nullptr) {
            tk.packed8_dot_xn(n, p + at, next, xq.quants + t * xq.quants_stride,
                              xq.quants_stride, xq.scales + t, xq.scales_stride, m, yt,
                              static_cast<size_t>(y_stride));
          } else {
            tk.packed8_dot_xn(n, p + at, next, act + t * xq.row_bytes, xq.row_bytes, nullptr, 0,
                              m, yt, static_cast<size_t>(y_stride));
          }
        }
      }
    }
    return;
  }
  if (xq.n_tokens == 1) {
    // One token streams each weight once: where the CPU wants it, fetch a
    // few rows ahead into L1 so the dot products do not wait on memory.
    const VecDotFn dot = tk.DotFor(xq.ref_batch, xq.ref_first);
    const size_t end = static_cast<size_t>(r1) * w_row_bytes;
    for (int64_t r = r0; r < r1; ++r) {
      const size_t ahead = static_cast<size_t>(r) * w_row_bytes + prefetch;
      for (size_t b = ahead; prefetch != 0 && b < ahead + w_row_bytes && b < end; b += 64) {
        __builtin_prefetch(w + b, 0, 3);
      }
      y[r] = dot(n, w + r * w_row_bytes, act);
    }
    return;
  }
  // (Only tokens in the batched order use it; they form one interval, so
  // its ends tell whether there are any, e.g. none in a decode step of
  // several sequences.)
  const bool any_batched =
      tk.DotFor(xq.ref_batch, xq.ref_first) == tk.vec_dot_batched ||
      tk.DotFor(xq.ref_batch, xq.ref_first + xq.n_tokens - 1) == tk.vec_dot_batched;
  if (tk.rows8_repack != nullptr && xq.n_tokens >= kRows8MinTokens && any_batched) {
    r0 = DotRows8(tk, w, w_row_bytes, r0, r1, xq, y, y_stride, packed8, k.prefetch_rows8_groups);
  }
  // Rows in tiles that stay in cache while every token passes over them;
  // tokens in groups of eight or four where a multi-token kernel exists, so
  // that each weight block is unpacked once per group.
  const int64_t tile = std::max<int64_t>(1, static_cast<int64_t>(kRowTileBytes / w_row_bytes));
  for (int64_t rt = r0; rt < r1; rt += tile) {
    const int64_t rt_end = std::min(r1, rt + tile);
    for (int64_t t = 0; t < xq.n_tokens;) {
      const uint8_t* xt = act + t * xq.row_bytes;
      float* yt = y + t * y_stride;
      // Up to eight tokens that all take the single-token order.
      const int64_t m = std::min<int64_t>(8, xq.n_tokens - t);
      // (Q8_K activations carry float scales in their blocks already.)
      if ((xq.scales != nullptr || xq.type == DType::kQ8_K) && tk.vec_dot_x8 != nullptr && m >= 2 &&
          tk.DotFor(xq.ref_batch, xq.ref_first + t) == tk.vec_dot &&
          tk.DotFor(xq.ref_batch, xq.ref_first + t + m - 1) == tk.vec_dot) {
        float out[8];
        for (int64_t r = rt; r < rt_end; ++r) {
          tk.vec_dot_x8(n, w + r * w_row_bytes, xt, xq.row_bytes, xq.scales + t,
                        xq.scales_stride, static_cast<int>(m), out);
          for (int64_t j = 0; j < m; ++j) yt[j * y_stride + r] = out[j];
        }
        t += m;
        continue;
      }
      const VecDotX4Fn dot4 =
          t + 4 <= xq.n_tokens ? tk.DotX4For(xq.ref_batch, xq.ref_first + t) : nullptr;
      if (dot4 != nullptr) {
        float out[4];
        for (int64_t r = rt; r < rt_end; ++r) {
          dot4(n, w + r * w_row_bytes, xt, xq.row_bytes, out);
          for (int j = 0; j < 4; ++j) yt[j * y_stride + r] = out[j];
        }
        t += 4;
        continue;
      }
      const VecDotFn dot = tk.DotFor(xq.ref_batch, xq.ref_first + t);
      for (int64_t r = rt; r < rt_end; ++r) yt[r] = dot(n, w + r * w_row_bytes, xt);
      ++t;
    }
  }
}

// Whether activations for weight_type carry float scales and the quants
// plane (QuantizedActivations::scales, ::quants).
bool SplitsBlocks(const KernelTable& k, DType weight_type, int64_t n_tokens) {
  return n_tokens >= 2 && k[weight_type].vec_dot_x8 != nullptr &&
         k[weight_type].vec_dot_type != DType::kQ8_K;
}

}  // namespace

QuantizedActivations BeginActivations(const KernelTable& k, DType weight_type, const float* x,
                                      int64_t n_cols, int64_t n_tokens, MatMulScratch* scratch) {
  const DType act_type = k[weight_type].vec_dot_type;
  QuantizedActivations q;
  q.type = act_type;
  q.weight_type = weight_type;
  q.n_cols = n_cols;
  q.n_tokens = n_tokens;
  q.ref_batch = scratch->ref_batch;
  q.ref_first = scratch->ref_first;
  q.row_bytes = RowBytes(act_type, n_cols);
  if (act_type == DType::kF32) {
    q.data = x;
    return q;
  }
  CHECK(k[act_type].quantize != nullptr);
  const DTypeInfo& info = GetDTypeInfo(act_type);
  CHECK(n_cols % info.block_size == 0);
  const size_t bytes = q.row_bytes * static_cast<size_t>(n_tokens);
  if (scratch->act.size() < bytes) scratch->act.Resize(bytes);
  q.data = scratch->act.data();
  if (SplitsBlocks(k, weight_type, n_tokens)) {
    CHECK(k[act_type].quantize_split != nullptr);
    static_assert(sizeof(BlockQ8_0::qs) == 32 && sizeof(BlockQ8_1::qs) == 32);
    const int64_t nb = n_cols / info.block_size;
    // Eight readable entries past any token: the stride rounds up and adds 8.
    q.scales_stride = static_cast<size_t>((n_tokens + 7) / 8 * 8 + 8);
    const size_t scales_size = 2 * static_cast<size_t>(nb) * q.scales_stride;
    if (scratch->scales.size() < scales_size) scratch->scales.Resize(scales_size);
    q.scales = scratch->scales.data();
    q.quants_stride = static_cast<size_t>(nb) * 32;
    const size_t quants_size = q.quants_stride * static_cast<size_t>(n_tokens);
    if (scratch->quants.size() < quants_size) scratch->quants.Resize(quants_size);
    q.quants = scratch->quants.data();
  }
  return q;
}

void QuantizeActivationRow(const KernelTable& k, DType weight_type, const QuantizedActivations& q,
                           int64_t t, const float* x_row, MatMulScratch* scratch) {
  DCHECK(weight_type == q.weight_type);
  QuantizeActivationRange(k, q, t, 0, q.n_cols, x_row, scratch);
}

void QuantizeActivationRange(const KernelTable& k, const QuantizedActivations& q, int64_t t,
                             int64_t c0, int64_t c1, const float* x_part, MatMulScratch* scratch) {
  if (q.type == DType::kF32) return;
  const DTypeInfo& info = GetDTypeInfo(q.type);
  DCHECK(q.data == scratch->act.data() && t < q.n_tokens);
  DCHECK(c0 % info.block_size == 0 && c1 % info.block_size == 0 && c1 <= q.n_cols);
  const int64_t b0 = c0 / info.block_size;
  uint8_t* row = scratch->act.data() + t * q.row_bytes + b0 * info.block_bytes;
  if (q.scales == nullptr) {
    k[q.type].quantize(x_part, row, c1 - c0);
    return;
  }
  // (Block b0's scales and quants; the split ones are 32 to a block.)
  k[q.type].quantize_split(x_part, row, c1 - c0,
                           scratch->scales.data() + 2 * b0 * q.scales_stride + t, q.scales_stride,
                           scratch->quants.data() + t * q.quants_stride + 32 * b0,
                           k[q.weight_type].packed8_xn_unsigned_quants);
}

bool ActivationsServe(const KernelTable& k, DType weight_type, const QuantizedActivations& q) {
  return k[weight_type].vec_dot_type == q.type &&
         SplitsBlocks(k, weight_type, q.n_tokens) == (q.scales != nullptr) &&
         (q.scales == nullptr || k[weight_type].packed8_xn_unsigned_quants ==
                                     k[q.weight_type].packed8_xn_unsigned_quants);
}

QuantizedActivations QuantizeActivations(const KernelTable& k, DType weight_type, const float* x,
                                         int64_t n_cols, int64_t n_tokens, ThreadPool* pool,
                                         MatMulScratch* scratch) {
  const QuantizedActivations q = BeginActivations(k, weight_type, x, n_cols, n_tokens, scratch);
  if (q.type == DType::kF32) return q;
  if (q.scales != nullptr) {
    // (Row by row, each split while it is in L1.)
    auto rows = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        QuantizeActivationRow(k, weight_type, q, t, x + t * n_cols, scratch);
      }
    };
    if (n_cols * n_tokens < kParallelQuantizeMin) {
      rows(0, n_tokens);
    } else {
      ParallelRange(pool, n_tokens, rows);
    }
    return q;
  }
  const QuantizeRowFn quantize = k[q.type].quantize;
  const DTypeInfo& info = GetDTypeInfo(q.type);
  uint8_t* dst = scratch->act.data();
  const int64_t blocks_per_row = n_cols / info.block_size;
  auto quantize_blocks = [&](int64_t b0, int64_t b1) {
    // [b0, b1) indexes blocks over all tokens, row-major.
    while (b0 < b1) {
      const int64_t t = b0 / blocks_per_row;
      const int64_t in_row = b0 % blocks_per_row;
      const int64_t count = std::min(b1 - b0, blocks_per_row - in_row);
      quantize(x + t * n_cols + in_row * info.block_size,
               dst + t * q.row_bytes + static_cast<size_t>(in_row) * info.block_bytes,
               count * info.block_size);
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
                     ThreadPool* pool, const void* packed8) {
  // (One matrix of MatMulQuantizedMany's split.)
  const MatMulOutput out = {w, n_rows, y, y_stride, packed8};
  MatMulQuantizedMany(k, type, &out, 1, xq, pool);
}

void MatMulQuantizedMany(const KernelTable& k, DType type, const MatMulOutput* outs, int n_outs,
                         const QuantizedActivations& xq, ThreadPool* pool, const RowsDone* done) {
  const TypeKernels& tk = k[type];
  CHECK(tk.vec_dot != nullptr);
  CHECK(xq.type == tk.vec_dot_type);
  const size_t w_row_bytes = RowBytes(type, xq.n_cols);
  int64_t total = 0;
  for (int i = 0; i < n_outs; ++i) total += outs[i].n_rows;
  // The rows of all matrices one after another, cut into units of each
  // matrix's grain; a thread takes the units that start inside its equal
  // share of the rows (so every unit goes to exactly one thread).
  auto share = [&](int ith, int nth) {
    const int64_t lo = total * ith / nth, hi = total * (ith + 1) / nth;
    int64_t base = 0;
    for (int i = 0; i < n_outs; ++i) {
      const MatMulOutput& o = outs[i];
      const int64_t g = o.grain > 0 ? o.grain : kRowGrain;
      DCHECK(g % kRowGrain == 0);
      // Units starting in [lo, hi): rows [r0, r1) of this matrix.
      auto first_at = [&](int64_t at) {
        return at <= base ? int64_t{0} : std::min(o.n_rows, (at - base + g - 1) / g * g);
      };
      const int64_t r0 = first_at(lo), r1 = first_at(hi);
      if (r0 < r1) {
        DotRows(tk, static_cast<const uint8_t*>(o.w), w_row_bytes, r0, r1, xq, o.y, o.y_stride,
                o.packed8, k);
        if (done != nullptr) done->fn(done->ctx, &o, r0, r1);
      }
      base += o.n_rows;
    }
  };
  if (pool == nullptr || pool->size() <= 1 || total <= kRowGrain) {
    share(0, 1);
  } else {
    pool->Run(share);
  }
}

void MatMulQuantizedSideBySide(const KernelTable& k, DType type, const MatMulOutput* outs,
                               int n_outs, const QuantizedActivations& xq, ThreadPool* pool,
                               int64_t grain, const RowsDone* done) {
  const TypeKernels& tk = k[type];
  CHECK(tk.vec_dot != nullptr);
  CHECK(xq.type == tk.vec_dot_type);
  CHECK(n_outs > 0 && grain > 0 && grain % kRowGrain == 0);
  const size_t w_row_bytes = RowBytes(type, xq.n_cols);
  const int64_t n_rows = outs[0].n_rows;
  for (int i = 1; i < n_outs; ++i) CHECK(outs[i].n_rows == n_rows);
  const int64_t n_units = (n_rows + grain - 1) / grain;
  auto rows = [&](int64_t u0, int64_t u1) {
    const int64_t r0 = u0 * grain, r1 = std::min(n_rows, u1 * grain);
    for (int i = 0; i < n_outs; ++i) {
      const MatMulOutput& o = outs[i];
      DotRows(tk, static_cast<const uint8_t*>(o.w), w_row_bytes, r0, r1, xq, o.y, o.y_stride,
              o.packed8, k);
    }
    if (done != nullptr) done->fn(done->ctx, nullptr, r0, r1);
  };
  if (pool == nullptr || pool->size() <= 1) {
    rows(0, n_units);
  } else {
    pool->ParallelFor(n_units, rows);
  }
}

bool SideBySideBalanced(int64_t n_rows, int64_t grain, int n_threads) {
  if (n_threads <= 1) return true;
  const int64_t n_units = (n_rows + grain - 1) / grain;
  // The largest share against an equal one.
  const int64_t most = (n_units + n_threads - 1) / n_threads;
  return most * n_threads * 100 <= n_units * 101;
}

void MatMul(const KernelTable& k, DType type, const void* w, int64_t n_rows, int64_t n_cols,
            const float* x, int64_t n_tokens, float* y, int64_t y_stride, ThreadPool* pool,
            MatMulScratch* scratch, const void* packed8) {
  const QuantizedActivations xq =
      QuantizeActivations(k, type, x, n_cols, n_tokens, pool, scratch);
  MatMulQuantized(k, type, w, n_rows, xq, y, y_stride, pool, packed8);
}

size_t PackedRows8Bytes(const KernelTable& k, DType type, int64_t n_rows, int64_t n_cols) {
  const TypeKernels& tk = k[type];
  if (tk.packed8_repack == nullptr || n_rows % 8 != 0 || n_rows <= 0) return 0;
  return static_cast<size_t>(n_cols / GetDTypeInfo(type).block_size) * tk.packed8_block_bytes *
         static_cast<size_t>(n_rows / 8);
}

void PackRows8Into(const KernelTable& k, DType type, const void* w, int64_t n_rows, int64_t n_cols,
                   uint8_t* out) {
  const TypeKernels& tk = k[type];
  CHECK(PackedRows8Bytes(k, type, n_rows, n_cols) > 0);
  const size_t row_bytes = RowBytes(type, n_cols);
  const size_t group_bytes = PackedRows8Bytes(k, type, 8, n_cols);
  const auto* src = static_cast<const uint8_t*>(w);
  for (int64_t g = 0; g < n_rows / 8; ++g) {
    tk.packed8_repack(n_cols, src + static_cast<size_t>(8 * g) * row_bytes, row_bytes,
                      out + static_cast<size_t>(g) * group_bytes);
  }
}

AlignedBuffer<uint8_t> PackRows8(const KernelTable& k, DType type, const void* w, int64_t n_rows,
                                 int64_t n_cols) {
  AlignedBuffer<uint8_t> out;
  const size_t bytes = PackedRows8Bytes(k, type, n_rows, n_cols);
  if (bytes == 0) return out;
  out.ResizeUninitialized(bytes);
  PackRows8Into(k, type, w, n_rows, n_cols, out.data());
  return out;
}

}  // namespace glint::kernels
