// The kernels of x86/vnni/ are built twice, for the two encodings of the
// 256-bit vpdpbusd: with -mavxvnni (VEX; namespace avxvnni, Intel cores
// from Alder Lake and Sapphire Rapids on) and with -mavx512vnni -mavx512vl
// (EVEX; namespace avx512vnni, CPUs with AVX512-VNNI but no AVX-VNNI such
// as AMD Zen 4). The instruction and its results are the same.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#if defined(__AVXVNNI__)
#define GLINT_VNNI_NAMESPACE avxvnni
#define GLINT_DPBUSD _mm256_dpbusd_avx_epi32
#define GLINT_DPWSSD _mm256_dpwssd_avx_epi32
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define GLINT_VNNI_NAMESPACE avx512vnni
#define GLINT_DPBUSD _mm256_dpbusd_epi32
#define GLINT_DPWSSD _mm256_dpwssd_epi32
#else
#error "x86/vnni/ needs -mavxvnni or -mavx512vnni -mavx512vl"
#endif

namespace glint::kernels::GLINT_VNNI_NAMESPACE {

// acc + vpdpbusd(w, the four bytes at p in every lane). With EVEX the
// broadcast is the instruction's own memory operand ({1to8}), which the load
// unit performs; GCC 12 emits a separate vpbroadcastd instead, which costs a
// vector-pipe slot per product on Zen 4 (there 1.56 against 1.90 products
// per cycle in a loop of independent sums). The sums are the same.
inline __m256i DpbusdQuad(__m256i acc, __m256i w, const void* p) {
#if defined(__AVXVNNI__)
  int32_t v;
  std::memcpy(&v, p, 4);
  return GLINT_DPBUSD(acc, w, _mm256_set1_epi32(v));
#else
  __asm__("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
#endif
}

// vpdpbusd(w, x)'s eight sums as floats, without a conversion: the sums
// start from kDpbusdFloatBias, the bits of 1.5 * 2^23, whose float ulp is
// 1, so for |sum| < 2^22 the result's bits are the float 1.5 * 2^23 + sum
// exactly, and subtracting 1.5 * 2^23 leaves the sum, as vcvtdq2ps would.
// start: kDpbusdFloatBias plus any integer to add to the sums. Against
// a zeroed start and vcvtdq2ps: +4% for the Q4_1 many-token kernel on Zen 4
// (the register copy of a constant is free), and a correction folds in.
constexpr int32_t kDpbusdFloatBias = 0x4B400000;
inline __m256 DpbusdAsFloat(__m256i start, __m256i w, __m256i x) {
  const __m256i sums = GLINT_DPBUSD(start, w, x);
  return _mm256_sub_ps(_mm256_castsi256_ps(sums), _mm256_set1_ps(12582912.0f));
}
inline __m256 DpbusdAsFloat(__m256i w, __m256i x) {
  return DpbusdAsFloat(_mm256_set1_epi32(kDpbusdFloatBias), w, x);
}

}  // namespace glint::kernels::GLINT_VNNI_NAMESPACE
