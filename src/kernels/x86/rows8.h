// Layouts of eight weight rows with rows in vector lanes, shared by the
// AVX2 (quants_rows8.cc) and AVX-VNNI (vnni/) eight-row kernels. Only
// included from files built with at least -mavx2; its functions are static,
// so that each build keeps its own copy (see x86/q6k.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace glint::kernels::x86 {

// Eight rows of one Q4_K super-block, lane r = row r.
struct Q4KRows8 {
  float d[8];
  float dmin[8];
  int32_t sc[8][8];    // [sub-block][row], 0..63
  int32_t mins[4][8];  // [group][row]: i16 pair m[2g] | m[2g+1] << 16
  uint8_t qs[8][8][8][4];  // [sub-block][quad][row]: elements 32s+4q .. +3, 0..15
};
static_assert(sizeof(Q4KRows8) % 32 == 0);

// Eight rows of one Q6_K super-block, lane r = row r. The 6-bit values are
// kept unsigned (0..63); the -32 offset is folded in through bsums, as the
// single-row kernel does.
struct Q6KRows8 {
  float d[8];
  int32_t sc_pair[8][8];  // [j][row]: i16 pair scales[2j] | scales[2j+1] << 16
  int32_t sc_dup[16][8];  // [sub-block][row]: i16 pair scales[s] | scales[s] << 16
  uint8_t qs[8][8][8][4];  // [32-element run][quad][row]: elements 32v+4q .. +3
};
static_assert(sizeof(Q6KRows8) % 32 == 0);

// Eight rows of one Q4_K super-block as decode and prompts read them,
// packed at load (packed8_k.h): the nibbles stay packed, so the layout is as
// large as the eight blocks plus 32 bytes, and lane r of every vector is row
// r. Byte k of qs[g][q][r] is the row's qs[32g + 4q + k]: its low nibble is
// element 64g + 4q + k (sub-block 2g), its high nibble element
// 64g + 32 + 4q + k.
struct Q4KPacked8 {
  uint16_t d[8];           // f16, as in the blocks
  uint16_t dmin[8];
  uint8_t sc[8][8];        // [sub-block][row], 0..63
  uint8_t mins[4][8][2];   // [group][row]: m[2g], m[2g+1]
  uint8_t qs[4][8][8][4];  // [group][quad][row]
};
static_assert(sizeof(Q4KPacked8) % 32 == 0);

// An 8x8 transpose of 4-byte quads: v[r] holds 8 quads of row r; writes
// quad q of every row, row r in lane r, to dst[q].
static inline void TransposeQuads(const __m256i* v, uint8_t (*dst)[8][4]) {
  __m256i t[8], u[8];
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_epi32(v[k], v[k + 1]);
    t[k + 1] = _mm256_unpackhi_epi32(v[k], v[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    u[k] = _mm256_unpacklo_epi64(t[k], t[k + 2]);
    u[k + 1] = _mm256_unpackhi_epi64(t[k], t[k + 2]);
    u[k + 2] = _mm256_unpacklo_epi64(t[k + 1], t[k + 3]);
    u[k + 3] = _mm256_unpackhi_epi64(t[k + 1], t[k + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[k]),
                        _mm256_permute2x128_si256(u[k], u[k + 4], 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[k + 4]),
                        _mm256_permute2x128_si256(u[k], u[k + 4], 0x31));
  }
}

static inline int32_t I16Pair(int lo, int hi) {
  return static_cast<int32_t>(static_cast<uint16_t>(lo) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
}

}  // namespace glint::kernels::x86
