// Matrix multiplication of quantized weights with f32 activations:
//   y[t * y_stride + r] = dot(row r of W, x[t * n_cols .. + n_cols])
// for r < n_rows, t < n_tokens, through the per-type kernels of a
// KernelTable. Activations are quantized once to the weight type's
// vec_dot_type and reused for every row (and, through MatMulQuantized, for
// several matrices that share an input, such as Q, K and V).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/aligned_buffer.h"
#include "base/thread_pool.h"
#include "gguf/dtype.h"
#include "kernels/kernels.h"

namespace glint::kernels {

// Reusable buffers of one caller (one per inference thread): grows to the
// largest activation seen, never shrinks, so steady-state calls allocate
// nothing.
struct MatMulScratch {
  AlignedBuffer<uint8_t> act;  // quantized activations [n_tokens][row_bytes]
  AlignedBuffer<float> scales;  // their block scales in float (see QuantizedActivations)
  AlignedBuffer<int8_t> quants;  // their block quants alone (see QuantizedActivations)
  // The tokens of the next calls are tokens ref_first.. of a batch of
  // ref_batch tokens of the reference engine (which picks its summation
  // order by batch; see BatchedOrder). Copied into QuantizedActivations.
  int64_t ref_batch = 1;
  int64_t ref_first = 0;
};

// A view of activations already in a weight type's vec_dot_type.
struct QuantizedActivations {
  DType type = DType::kF32;
  DType weight_type = DType::kF32;  // the weight type they were made for
  const void* data = nullptr;  // n_tokens rows of row_bytes each
  size_t row_bytes = 0;
  int64_t n_cols = 0;
  int64_t n_tokens = 0;
  int64_t ref_batch = 1;  // as MatMulScratch
  int64_t ref_first = 0;
  // For several tokens and a weight type with a multi-token kernel
  // (TypeKernels::vec_dot_x8): the block scales of every token in float,
  // d of block i, token t at scales[2 * i * scales_stride + t] and s (Q8_1)
  // at scales[(2 * i + 1) * scales_stride + t]; rows padded so that eight
  // entries from any token can be read. nullptr otherwise.
  const float* scales = nullptr;
  size_t scales_stride = 0;
  // With scales: the blocks' quants alone, 32 bytes each, token t's block i
  // at quants + t * quants_stride + 32 * i, every block 32-byte aligned
  // (what TypeKernels::packed8_dot_xn reads; each quant as q ^ 0x80 where
  // the weight type's packed8_xn_unsigned_quants says so).
  const int8_t* quants = nullptr;
  size_t quants_stride = 0;
};

// Quantizes x [n_tokens][n_cols] to k[weight_type].vec_dot_type, into
// scratch (F32 activations are used in place, without a copy). The view
// stays valid until scratch is used again. n_cols must be a multiple of the
// weight type's block size. pool may be nullptr (single thread).
QuantizedActivations QuantizeActivations(const KernelTable& k, DType weight_type, const float* x,
                                         int64_t n_cols, int64_t n_tokens, ThreadPool* pool,
                                         MatMulScratch* scratch);

// QuantizeActivations in two steps, for a caller that writes x token by
// token in a parallel section of its own: the quantization then runs in
// that section, right after each row, instead of on one thread or in a
// section of its own after it. BeginActivations sizes scratch and returns
// the view; QuantizeActivationRow fills token t's part of it from x_row,
// the final contents of row t of x (different tokens may be filled from
// different threads at once). The view is complete when every token has
// been; until then scratch must not be used for other activations.
QuantizedActivations BeginActivations(const KernelTable& k, DType weight_type, const float* x,
                                      int64_t n_cols, int64_t n_tokens, MatMulScratch* scratch);
void QuantizeActivationRow(const KernelTable& k, DType weight_type, const QuantizedActivations& q,
                           int64_t t, const float* x_row, MatMulScratch* scratch);
// Blocks [c0, c1) of token t (columns, multiples of the activation type's
// block size) from x_part, the final columns [c0, c1) of row t: for a
// caller that finishes x a column range at a time (see RowsDone).
// Different threads may fill different tokens or blocks at once.
void QuantizeActivationRange(const KernelTable& k, const QuantizedActivations& q, int64_t t,
                             int64_t c0, int64_t c1, const float* x_part, MatMulScratch* scratch);

// Whether q, made for another weight type, is what QuantizeActivations
// would make for weight_type from the same x (matrices of both types can
// share it: Q4_K and Q6_K, for one).
bool ActivationsServe(const KernelTable& k, DType weight_type, const QuantizedActivations& q);

// w's rows repacked in groups of eight for k[type].packed8_dot (single-
// token products; see TypeKernels), or an empty buffer when the table has
// no such kernel for type or n_rows is not a multiple of 8. The packing
// belongs to that table and the tables that share its packed8_repack.
AlignedBuffer<uint8_t> PackRows8(const KernelTable& k, DType type, const void* w, int64_t n_rows,
                                 int64_t n_cols);

// The bytes PackRows8 produces for such a matrix (0 when it packs nothing),
// and the same packing written to out, which must hold that many bytes and
// be 64-byte aligned (as PackRows8's buffer is): for callers that place
// several matrices in one allocation.
size_t PackedRows8Bytes(const KernelTable& k, DType type, int64_t n_rows, int64_t n_cols);
void PackRows8Into(const KernelTable& k, DType type, const void* w, int64_t n_rows, int64_t n_cols,
                   uint8_t* out);

// y[t * y_stride + r] = dot(row r of w, token t of xq). W rows are
// RowBytes(type, xq.n_cols) bytes each; xq.type must be type's vec_dot_type.
// packed8, when not nullptr, holds the same rows as PackRows8 packs them:
// single-token products read it instead of w.
void MatMulQuantized(const KernelTable& k, DType type, const void* w, int64_t n_rows,
                     const QuantizedActivations& xq, float* y, int64_t y_stride,
                     ThreadPool* pool, const void* packed8 = nullptr);

// One matrix of several that share their weight type and their input.
struct MatMulOutput {
  const void* w = nullptr;
  int64_t n_rows = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
  const void* packed8 = nullptr;  // as MatMulQuantized's
  // A thread's rows of this matrix start at multiples of `grain` rows (a
  // multiple of 16) and end at one or at n_rows; 0 means 16.
  int64_t grain = 0;
};

// Work on the rows a thread has just computed, done by that thread in the
// same parallel section (the RoPE of the heads it computed, say), where a
// section of its own would wait for the pool once more and read rows that
// the other threads wrote: fn(ctx, o, r0, r1) once rows [r0, r1) of output
// o are final for every token (o == nullptr: of every output; see
// MatMulQuantizedSideBySide). Threads call it at once for disjoint rows.
struct RowsDone {
  void (*fn)(void* ctx, const MatMulOutput* o, int64_t r0, int64_t r1) = nullptr;
  void* ctx = nullptr;
};

// A RowsDone that calls fn(o, r0, r1); fn must outlive the product.
template <typename Fn>
RowsDone RowsDoneBy(Fn& fn) {
  return {[](void* ctx, const MatMulOutput* o, int64_t r0, int64_t r1) {
            (*static_cast<Fn*>(ctx))(o, r0, r1);
          },
          static_cast<void*>(&fn)};
}

// MatMulQuantized for several matrices in one pass over the pool: the
// threads split the rows of all of them, matrix after matrix, so a decode
// step waits for the pool once rather than once per matrix (Q, K and V).
// done, when not nullptr, is called for each thread's rows of each matrix.
void MatMulQuantizedMany(const KernelTable& k, DType type, const MatMulOutput* outs, int n_outs,
                         const QuantizedActivations& xq, ThreadPool* pool,
                         const RowsDone* done = nullptr);

// The same for matrices with the same number of rows, split side by side:
// each thread computes the same rows, in units of `grain` (a multiple of
// 16), of every matrix, then calls done (when not nullptr) with o ==
// nullptr. For work that needs row r of each (SwiGLU of gate and up).
void MatMulQuantizedSideBySide(const KernelTable& k, DType type, const MatMulOutput* outs,
                               int n_outs, const QuantizedActivations& xq, ThreadPool* pool,
                               int64_t grain, const RowsDone* done = nullptr);

// Whether the side-by-side split of n_rows rows in units of `grain` keeps
// each of n_threads threads within 1% of an equal share (below that, a
// separate section for the follow-up work costs less than the imbalance).
bool SideBySideBalanced(int64_t n_rows, int64_t grain, int n_threads);

// QuantizeActivations followed by MatMulQuantized.
void MatMul(const KernelTable& k, DType type, const void* w, int64_t n_rows, int64_t n_cols,
            const float* x, int64_t n_tokens, float* y, int64_t y_stride, ThreadPool* pool,
            MatMulScratch* scratch, const void* packed8 = nullptr);

}  // namespace glint::kernels
