// Quantized block layouts of the GGUF format (ggml's block_* structs, see
// ggml-common.h in ggml and the GGUF specification's type table). Every
// field is little-endian; `uint16_t d` fields hold IEEE half floats.
//
// Alignment: a row of blocks only needs the alignment of its widest field
// (2 bytes for the f16 fields, 4 for block_q8_K's float), which is what a
// GGUF tensor row guarantees. The kernels access blocks through these
// structs, so callers must respect alignof(Block...).
#pragma once

#include <cstdint>
#include <cstring>

namespace glint::kernels {

inline constexpr int kQK = 32;    // elements per legacy block (QK4_0 .. QK8_1)
inline constexpr int kQKK = 256;  // elements per K-quant super-block (QK_K)
inline constexpr int kKScaleBytes = 12;  // K_SCALE_SIZE: 8 6-bit scales + 8 6-bit mins

// x = d * (q - 8), q in [0, 15]. Element j < 16 is the low nibble of qs[j],
// element j + 16 its high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// x = d * q + m, q in [0, 15]; nibble order as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// x = d * (q - 16), q = nibble | (bit j of qh) << 4; nibble order as Q4_0.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// x = d * q + m, q as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// x = d * q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// x = d * q; s = d * sum(q), used by the Q4_1 / Q5_1 dot products for the
// offset term.
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], q in [0, 15], sc and m
// 6-bit values packed into `scales` (see UnpackScaleMinK4). Each group of 64
// elements takes 32 bytes of qs: low nibbles first, then high nibbles.
struct BlockQ4K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQKK / 2];
};

// As Q4_K with a fifth bit: for the 64-element group g, bit 2g of qh[l] is the
// high bit of element l of the group, bit 2g+1 that of element l + 32.
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};

// 16 sub-blocks of 16: x = d * scales[j] * (q - 32), q 6 bits: 4 low bits in
// ql, 2 high bits in qh (layout in DequantizeQ6K).
struct BlockQ6K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};

// Activation format of the K-quant dot products: x = d * q, bsums[j] = sum of
// qs[16j .. 16j+15] (feeds the K-quants' min terms).
struct BlockQ8K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4K) == 144);
static_assert(sizeof(BlockQ5K) == 176);
static_assert(sizeof(BlockQ6K) == 210);
static_assert(sizeof(BlockQ8K) == 292);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block
// (ggml's get_scale_min_k4): j < 4 keep them in the low 6 bits of bytes j and
// j + 4; j >= 4 split them into a nibble of byte j + 4 and the top 2 bits of
// bytes j - 4 and j.
inline void UnpackScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// UnpackScaleMinK4 for all 8 sub-blocks at once, four bytes per 32-bit
// operation (the reference's utmp trick; same values).
inline void UnpackScalesMinsK4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  constexpr uint32_t kLow6 = 0x3F3F3F3F, kLow4 = 0x0F0F0F0F, kLow2 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint32_t s[2] = {u[0] & kLow6, (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4)};
  const uint32_t mm[2] = {u[1] & kLow6, ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4)};
  std::memcpy(sc, s, 8);
  std::memcpy(m, mm, 8);
}

// Inverse of UnpackScaleMinK4 for all 8 sub-blocks (values < 64).
inline void PackScaleMinK4(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

}  // namespace glint::kernels
