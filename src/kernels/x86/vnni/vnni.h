// The kernels of x86/vnni/ are built twice, for the two encodings of the
// 256-bit vpdpbusd: with -mavxvnni (VEX; namespace avxvnni, Intel cores
// from Alder Lake and Sapphire Rapids on) and with -mavx512vnni -mavx512vl
// (EVEX; namespace avx512vnni, CPUs with AVX512-VNNI but no AVX-VNNI such
// as AMD Zen 4). The instruction and its results are the same.
#pragma once

#include <immintrin.h>

#if defined(__AVXVNNI__)
#define GLINT_VNNI_NAMESPACE avxvnni
#define GLINT_DPBUSD _mm256_dpbusd_avx_epi32
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define GLINT_VNNI_NAMESPACE avx512vnni
#define GLINT_DPBUSD _mm256_dpbusd_epi32
#else
#error "x86/vnni/ needs -mavxvnni or -mavx512vnni -mavx512vl"
#endif
