// Scalar reference for the 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0 and Q8_1 (layouts in kernels/blocks.h).
//
// Weight quantizers (Q4_*, Q5_*) are the reference engine's round-to-nearest
// `quantize_row_*_ref`. The activation quantizers (Q8_0, Q8_1) follow the
// reference's x86 path (ggml-cpu/arch/x86/quants.c), which is what runs when
// llama.cpp is built on this machine: id = 127 / amax, q = round-half-even(x *
// id), and for Q8_1 s = d * sum(q) from the integer sum. Matching it keeps
// glint's activations bit-identical to the reference's.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/internal.h"

namespace glint::kernels::generic {
namespace {

inline float H(uint16_t h) { return HalfToFloatTable(h); }

inline uint32_t LoadQh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof(v));
  return v;
}

inline void StoreQh(uint8_t* qh, uint32_t v) { std::memcpy(qh, &v, sizeof(v)); }

// Shared by Q8_0 and Q8_1: returns d (unrounded) and writes q.
float QuantizeBlock8(const float* x, int8_t* q) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f;
  const float id = amax != 0.0f ? 127.f / amax : 0.0f;
  for (int j = 0; j < kQK; ++j) q[j] = static_cast<int8_t>(NearestInt(x[j] * id));
  return d;
}

}  // namespace

void DequantizeQ4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = H(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = ((b[i].qs[j] & 0xF) - 8) * d;
      dst[j + kQK / 2] = ((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ4_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = H(b[i].d);
    const float m = H(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = (b[i].qs[j] & 0xF) * d + m;
      dst[j + kQK / 2] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}

void DequantizeQ5_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = H(b[i].d);
    const uint32_t qh = LoadQh(b[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      dst[j] = (((b[i].qs[j] & 0xF) | h0) - 16) * d;
      dst[j + kQK / 2] = (((b[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void DequantizeQ5_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = H(b[i].d);
    const float m = H(b[i].m);
    const uint32_t qh = LoadQh(b[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      dst[j] = ((b[i].qs[j] & 0xF) | h0) * d + m;
      dst[j + kQK / 2] = ((b[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void DequantizeQ8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = H(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = b[i].qs[j] * d;
  }
}

void DequantizeQ8_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = H(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = b[i].qs[j] * d;
  }
}

void QuantizeQ4_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    // The signed extreme maps to -8 so that the full [-8, 7] range is used.
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(src[j])) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = FloatToHalf(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(src[j] * id + 8.5f)));
      const int q1 =
          std::min(15, static_cast<int>(static_cast<int8_t>(src[j + kQK / 2] * id + 8.5f)));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantizeQ4_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      min = std::min(min, src[j]);
      max = std::max(max, src[j]);
    }
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = FloatToHalf(d);
    b[i].m = FloatToHalf(min);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>((src[j] - min) * id + 0.5f)));
      const int q1 = std::min(
          15, static_cast<int>(static_cast<int8_t>((src[j + kQK / 2] - min) * id + 0.5f)));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

void QuantizeQ5_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j) {
      if (amax < std::fabs(src[j])) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = FloatToHalf(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>(static_cast<int8_t>(src[j] * id + 16.5f)));
      const int q1 =
          std::min(31, static_cast<int>(static_cast<int8_t>(src[j + kQK / 2] * id + 16.5f)));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + kQK / 2);
    }
    StoreQh(b[i].qh, qh);
  }
}

void QuantizeQ5_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < kQK; ++j) {
      min = std::min(min, src[j]);
      max = std::max(max, src[j]);
    }
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = FloatToHalf(d);
    b[i].m = FloatToHalf(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(31, static_cast<int>((src[j] - min) * id + 0.5f));
      const int q1 = std::min(31, static_cast<int>((src[j + kQK / 2] - min) * id + 0.5f));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + kQK / 2);
    }
    StoreQh(b[i].qh, qh);
  }
}

void QuantizeQ8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    b[i].d = FloatToHalf(QuantizeBlock8(src, b[i].qs));
  }
}

void QuantizeQ8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, src += kQK) {
    const float d = QuantizeBlock8(src, b[i].qs);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += b[i].qs[j];
    b[i].d = FloatToHalf(d);
    b[i].s = FloatToHalf(d * static_cast<float>(sum));
  }
}

// Dot products: an integer sum inside each block, scaled by d_x * d_y in float
// once per block (ggml_vec_dot_*_generic).

// The reference's AVX2 legacy dot products keep 8 f32 lanes: lane l of a
// block holds the integer sum of elements 4l..4l+3 and is added to its
// lane as fma(d_x d_y, lane, acc); the lanes are reduced 4+4, 2+2, 1+1.
// These scalar versions keep the same lanes, so they are bit-identical.
static float Reduce8(float* v) {
  for (int w = 4; w >= 1; w /= 2) {
    for (int l = 0; l < w; ++l) v[l] += v[l + w];
  }
  return v[0];
}

// Element i of a 4-bit block: low nibbles are 0..15, high nibbles 16..31.
static inline int Nibble(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4); }

float VecDotQ4_0Q8_0(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = H(bx[i].d) * H(by[i].d);
    for (int l = 0; l < 8; ++l) {
      int lane = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) lane += (Nibble(bx[i].qs, k) - 8) * by[i].qs[k];
      acc[l] = std::fma(d, static_cast<float>(lane), acc[l]);
    }
  }
  return Reduce8(acc);
}

// sum_j (d_x q_j + m_x)(d_y p_j) = d_x d_y sum(q p) + m_x (d_y sum p) = ... + m_x s_y.
float VecDotQ4_1Q8_1(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ4_1*>(x);
  const auto* by = static_cast<const BlockQ8_1*>(y);
  float acc[8] = {};
  float summs = 0;  // sum of m_x * s_y, one fused multiply-add per block
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = H(bx[i].d) * H(by[i].d);
    summs = std::fma(H(bx[i].m), H(by[i].s), summs);
    for (int l = 0; l < 8; ++l) {
      int lane = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) lane += Nibble(bx[i].qs, k) * by[i].qs[k];
      acc[l] = std::fma(d, static_cast<float>(lane), acc[l]);
    }
  }
  return Reduce8(acc) + summs;
}

float VecDotQ5_0Q8_0(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ5_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = LoadQh(bx[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      sumi += (((bx[i].qs[j] & 0xF) | h0) - 16) * by[i].qs[j];
      sumi += (((bx[i].qs[j] >> 4) | h1) - 16) * by[i].qs[j + kQK / 2];
    }
    sum += sumi * (H(bx[i].d) * H(by[i].d));
  }
  return sum;
}

float VecDotQ5_1Q8_1(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ5_1*>(x);
  const auto* by = static_cast<const BlockQ8_1*>(y);
  float sum = 0;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const uint32_t qh = LoadQh(bx[i].qh);
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      sumi += ((bx[i].qs[j] & 0xF) | h0) * by[i].qs[j];
      sumi += ((bx[i].qs[j] >> 4) | h1) * by[i].qs[j + kQK / 2];
    }
    sum += sumi * (H(bx[i].d) * H(by[i].d)) + H(bx[i].m) * H(by[i].s);
  }
  return sum;
}

float VecDotQ8_0Q8_0(int64_t n, const void* x, const void* y) {
  const auto* bx = static_cast<const BlockQ8_0*>(x);
  const auto* by = static_cast<const BlockQ8_0*>(y);
  float acc[8] = {};
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = H(bx[i].d) * H(by[i].d);
    for (int l = 0; l < 8; ++l) {
      int lane = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) lane += bx[i].qs[k] * by[i].qs[k];
      acc[l] = std::fma(d, static_cast<float>(lane), acc[l]);
    }
  }
  return Reduce8(acc);
}

}  // namespace glint::kernels::generic
