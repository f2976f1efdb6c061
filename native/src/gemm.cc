// GEMM: BLIS-style loop nest (NC / KC / MC blocks, packed panels) around a
// register-blocked micro-kernel. Written for this project; the structure is
// the textbook one (Goto & van de Geijn, "Anatomy of high-performance matrix
// multiplication", 2008).
#include "gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "pool.h"

namespace hemlock {
namespace {

// Cache blocking. KC x NR of B (32 KB for AVX-512) stays in L1 while the
// micro-kernel walks the MC rows of packed A (MC x KC, ~170 KB) from L2; the
// KC x NC block of packed B (2 MB) lives in L2/L3.
constexpr int KC = 256;
constexpr int MC = MR * 12;
constexpr int NC = NR * 64;

long round_up(long x, long m) { return (x + m - 1) / m * m; }

// Per-thread packing buffers, grown on demand and kept for the next call.
struct Buffer {
  float* p = nullptr;
  size_t cap = 0;
  ~Buffer() { std::free(p); }
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = nullptr;
      cap = 0;
      size_t bytes = round_up(static_cast<long>(n * sizeof(float)), 64);
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      cap = n;
    }
    return p;
  }
};
thread_local Buffer tl_a, tl_b;

// The AVX-512, AVX2 and portable micro-kernels below look alike on purpose:
// they are kept as separate copies, not one template over a vector type,
// because each is tuned for its ISA (register count -> MR, load/broadcast
// intrinsics, unroll pragmas checked in the generated assembly for spills)
// and is the hot loop of every GEMM; only one of them is compiled.
#if defined(__AVX512F__)

// c[0:MR, 0:NR] (=|+=) sum_p a[p*MR + i] * b[p*NR + j]. The 28 accumulators
// stay in registers (checked in the generated assembly: no spills).
inline void kernel(int kc, const float* __restrict a, const float* __restrict b, float* __restrict c, long ldc,
                   bool acc) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
  }
  for (int p = 0; p < kc; p++) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += NR;
  }
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    float* ci = c + i * ldc;
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(ci));
      c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(ci + 16));
    }
    _mm512_storeu_ps(ci, c0[i]);
    _mm512_storeu_ps(ci + 16, c1[i]);
  }
}

#elif defined(__AVX2__) && defined(__FMA__)

inline void kernel(int kc, const float* __restrict a, const float* __restrict b, float* __restrict c, long ldc,
                   bool acc) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
  }
  for (int p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += NR;
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    float* ci = c + i * ldc;
    if (acc) {
      c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(ci));
      c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(ci + 8));
    }
    _mm256_storeu_ps(ci, c0[i]);
    _mm256_storeu_ps(ci + 8, c1[i]);
  }
}

#else

// Portable fallback (no x86 SIMD at compile time): plain loops the compiler
// may vectorise.
inline void kernel(int kc, const float* __restrict a, const float* __restrict b, float* __restrict c, long ldc,
                   bool acc) {
  float t[MR][NR] = {};
  for (int p = 0; p < kc; p++) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) t[i][j] += a[p * MR + i] * b[p * NR + j];
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
}

#endif

// A partial tile (mr < MR or nr < NR) at the matrix edge: compute the full
// tile into a scratch block, then copy the valid part.
inline void kernel_edge(int kc, const float* a, const float* b, float* c, long ldc, int mr, int nr, bool acc) {
  alignas(64) float t[MR * NR];
  kernel(kc, a, b, t, NR, false);
  for (int i = 0; i < mr; i++) {
    float* ci = c + i * ldc;
    const float* ti = t + i * NR;
    if (acc) {
      for (int j = 0; j < nr; j++) ci[j] += ti[j];
    } else {
      for (int j = 0; j < nr; j++) ci[j] = ti[j];
    }
  }
}

}  // namespace

void MatA::pack(float* dst, long i0, int mr, long p0, int kc) const {
  if (trans) {
    for (int p = 0; p < kc; p++) {
      const float* src = a + (p0 + p) * ld + i0;
      float* d = dst + p * MR;
      int r = 0;
      for (; r < mr; r++) d[r] = src[r];
      for (; r < MR; r++) d[r] = 0.0f;
    }
    return;
  }
  for (int r = 0; r < mr; r++) {
    const float* src = a + (i0 + r) * ld + p0;
    for (int p = 0; p < kc; p++) dst[p * MR + r] = src[p];
  }
  for (int r = mr; r < MR; r++)
    for (int p = 0; p < kc; p++) dst[p * MR + r] = 0.0f;
}

void MatB::pack(float* dst, long j0, int nr, long p0, int kc) const {
  if (!trans) {
    for (int p = 0; p < kc; p++) {
      const float* src = b + (p0 + p) * ld + j0;
      float* d = dst + p * NR;
      std::memcpy(d, src, sizeof(float) * nr);
      for (int j = nr; j < NR; j++) d[j] = 0.0f;
    }
    return;
  }
  for (int j = 0; j < nr; j++) {
    const float* src = b + (j0 + j) * ld + p0;
    for (int p = 0; p < kc; p++) dst[p * NR + j] = src[p];
  }
  for (int j = nr; j < NR; j++)
    for (int p = 0; p < kc; p++) dst[p * NR + j] = 0.0f;
}

void gemm_serial(long i0, long i1, long j0, long j1, long k0, long k1, const ASource& A, const BSource& B,
                 float* C, long ldc, bool accumulate) {
  const long M = i1 - i0, N = j1 - j0, K = k1 - k0;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (long i = i0; i < i1; i++) std::fill(C + i * ldc + j0, C + i * ldc + j1, 0.0f);
    return;
  }
  float* bp = tl_b.get(static_cast<size_t>(KC) * round_up(std::min<long>(NC, N), NR));
  float* ap = tl_a.get(static_cast<size_t>(KC) * round_up(std::min<long>(MC, M), MR));
  for (long jc = j0; jc < j1; jc += NC) {
    const int nc = static_cast<int>(std::min<long>(NC, j1 - jc));
    for (long pc = k0; pc < k1; pc += KC) {
      const int kc = static_cast<int>(std::min<long>(KC, k1 - pc));
      const bool acc = accumulate || pc > k0;
      for (int jr = 0; jr < nc; jr += NR) B.pack(bp + static_cast<long>(jr) * kc, jc + jr, std::min(NR, nc - jr), pc, kc);
      for (long ic = i0; ic < i1; ic += MC) {
        const int mc = static_cast<int>(std::min<long>(MC, i1 - ic));
        for (int ir = 0; ir < mc; ir += MR) A.pack(ap + static_cast<long>(ir) * kc, ic + ir, std::min(MR, mc - ir), pc, kc);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          const float* bpanel = bp + static_cast<long>(jr) * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            float* cc = C + (ic + ir) * ldc + jc + jr;
            const float* apanel = ap + static_cast<long>(ir) * kc;
            if (mr == MR && nr == NR)
              kernel(kc, apanel, bpanel, cc, ldc, acc);
            else
              kernel_edge(kc, apanel, bpanel, cc, ldc, mr, nr, acc);
          }
        }
      }
    }
  }
}

void gemm(long M, long N, long K, const ASource& A, const BSource& B, float* C, long ldc, bool accumulate,
          int threads) {
  if (M <= 0 || N <= 0) return;
  const int T = std::max(1, std::min(threads, pool_threads()));
  // Below ~2 MFLOP a parallel region's wake-up and duplicated packing cost
  // more than they save.
  if (T == 1 || 2.0 * M * N * K < 2e6) {
    gemm_serial(0, M, 0, N, 0, K, A, B, C, ldc, accumulate);
    return;
  }
  // Each split duplicates some work: splitting M makes every thread pack all
  // of B (K x N each), splitting N all of A (M x K), splitting K needs private
  // partial results and a reduction (~2 M x N). Pick the cheapest that gives
  // every thread at least two micro-panels (or KC-blocks) of work.
  constexpr double kNo = std::numeric_limits<double>::infinity();
  const double costM = M >= 2L * T * MR ? double(T - 1) * K * N : kNo;
  const double costN = N >= 2L * T * NR ? double(T - 1) * M * K : kNo;
  const double costK = K >= 2L * T * KC ? 2.0 * (T - 1) * M * N : kNo;
  const double best = std::min({costM, costN, costK});
  if (best == kNo) {
    gemm_serial(0, M, 0, N, 0, K, A, B, C, ldc, accumulate);
    return;
  }
  if (best == costM) {
    const long chunk = round_up((M + T - 1) / T, MR);
    const int tasks = static_cast<int>((M + chunk - 1) / chunk);
    parallel_for(tasks, [&](int t, int) {
      gemm_serial(t * chunk, std::min(M, (t + 1) * chunk), 0, N, 0, K, A, B, C, ldc, accumulate);
    });
    return;
  }
  if (best == costN) {
    const long chunk = round_up((N + T - 1) / T, NR);
    const int tasks = static_cast<int>((N + chunk - 1) / chunk);
    parallel_for(tasks, [&](int t, int) {
      gemm_serial(0, M, t * chunk, std::min(N, (t + 1) * chunk), 0, K, A, B, C, ldc, accumulate);
    });
    return;
  }
  // K split: task 0 writes into C, the others into private partials, which
  // are then added in task order (deterministic for a given thread count).
  const long chunk = round_up((K + T - 1) / T, KC);
  const int tasks = static_cast<int>((K + chunk - 1) / chunk);
  std::vector<float> partial(static_cast<size_t>(tasks - 1) * M * N);
  parallel_for(tasks, [&](int t, int) {
    const long k0 = t * chunk, k1 = std::min(K, (t + 1) * chunk);
    if (t == 0)
      gemm_serial(0, M, 0, N, k0, k1, A, B, C, ldc, accumulate);
    else
      gemm_serial(0, M, 0, N, k0, k1, A, B, partial.data() + static_cast<size_t>(t - 1) * M * N, N, false);
  });
  for (long i = 0; i < M; i++) {
    float* ci = C + i * ldc;
    for (int t = 1; t < tasks; t++) {
      const float* pi = partial.data() + static_cast<size_t>(t - 1) * M * N + i * N;
      for (long j = 0; j < N; j++) ci[j] += pi[j];
    }
  }
}

#if defined(__AVX512F__)
namespace {

constexpr long kLanes = 16;

// Small-N products (N <= 16, e.g. W4's logits [60000,128].[128,10] and its
// weight gradient [60000,128]^T.[60000,10]). The blocked GEMM packs the whole
// wide operand (7.7 M elements) into panels and, with N = 10 on either side of
// its 14 x 32 tile, wastes 30-70% of each micro-tile: measured 7.9 and 6.0 ms
// of CPU per call. These loops read A once, unpacked, with one zmm holding a
// full row (or 16 rows) of C, so they run at memory speed.

// Lane j of the result = the sum of the 16 lanes of v[j], j < NN (lanes
// NN..15 are 0): a transpose-and-add tree, 46 shuffles/adds for 16 vectors.
template <int NN>
inline __m512 hsum16(const __m512* v) {
  const __m512 z = _mm512_setzero_ps();
  auto at = [&](int j) { return j < NN ? v[j] : z; };
  __m512 u[8], w[4];
#pragma GCC unroll 8
  for (int q = 0; q < 8; q++) {  // block k of u[q]: halves of v[2q] (k = 0,1) and v[2q+1] (k = 2,3)
    const __m512 x = at(2 * q), y = at(2 * q + 1);
    u[q] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x44), _mm512_shuffle_f32x4(x, y, 0xEE));
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; q++)  // block k of w[q]: a 4-lane partial of v[4q + k]
    w[q] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * q], u[2 * q + 1], 0x88),
                         _mm512_shuffle_f32x4(u[2 * q], u[2 * q + 1], 0xDD));
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(w[0], w[1]), _mm512_unpackhi_ps(w[0], w[1]));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(w[2], w[3]), _mm512_unpackhi_ps(w[2], w[3]));
  const __m512 s = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
                                 _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
  // s lane 4k + l = sum of v[4l + k]: transpose the 4 x 4 lane index.
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, s);
}

// The odd last row for R = 2 (a one-row instance of the same loop).
template <int NN>
void smalln_row1(long i, long K, long kp, const float* a, const float* bt, float* c) {
  const __mmask16 mn = static_cast<__mmask16>((1u << NN) - 1);
  const long kfull = K / 16 * 16;
  const __mmask16 mk = static_cast<__mmask16>((1u << (K - kfull)) - 1);
  __m512 acc[NN];
  for (int j = 0; j < NN; j++) acc[j] = _mm512_setzero_ps();
  for (long p = 0; p < kp; p += 16) {
    const __m512 av = p < kfull ? _mm512_loadu_ps(a + i * K + p) : _mm512_maskz_loadu_ps(mk, a + i * K + p);
    for (int j = 0; j < NN; j++) acc[j] = _mm512_fmadd_ps(av, _mm512_load_ps(bt + j * kp + p), acc[j]);
  }
  _mm512_mask_storeu_ps(c + i * NN, mn, hsum16<NN>(acc));
}

// op(A) = A[M,K] (row-major), bt = op(B)^T packed [NN][kp] (kp = K rounded
// up to 16, zero-padded). C[i, j] = sum_p A[i,p] * bt[j, p]: 16 values of p
// per zmm, NN accumulators per row, two rows at a time (the bt loads, from
// L1, are shared), then one horizontal tree per row. A first version that
// broadcast A[i,p] against a 16-wide row of B (N padded to 16) was
// broadcast-bound: 4.0-4.6 ms for W4's [60000,128].[128,10].
template <int NN>
void smalln_rows_n(long i0, long i1, long K, long kp, const float* a, const float* bt, float* c) {
  constexpr int R = NN <= 14 ? 2 : 1;  // 2 x NN accumulators + 2 A + 1 B must fit in 32 registers
  const __mmask16 mn = static_cast<__mmask16>((1u << NN) - 1);
  const long kfull = K / 16 * 16;
  const __mmask16 mk = static_cast<__mmask16>((1u << (K - kfull)) - 1);
  long i = i0;
  for (; i + R <= i1; i += R) {
    __m512 acc[R][NN];
    for (int r = 0; r < R; r++)
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) acc[r][j] = _mm512_setzero_ps();
    for (long p = 0; p < kp; p += 16) {
      __m512 av[R];
      for (int r = 0; r < R; r++)
        av[r] = p < kfull ? _mm512_loadu_ps(a + (i + r) * K + p) : _mm512_maskz_loadu_ps(mk, a + (i + r) * K + p);
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) {
        const __m512 bv = _mm512_load_ps(bt + j * kp + p);
        for (int r = 0; r < R; r++) acc[r][j] = _mm512_fmadd_ps(av[r], bv, acc[r][j]);
      }
    }
    for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(c + (i + r) * NN, mn, hsum16<NN>(acc[r]));
  }
  for (; i < i1; i++) smalln_row1<NN>(i, K, kp, a, bt, c);
}

// op(A) = A^T with A stored [K, M]: C[i, j] = sum_p a[p*M + i] * B(p, j).
// 16 consecutive i in one zmm, N accumulators (one per column j). p is walked
// in chunks of PC rows so the chunk of A (PC x M floats) stays in L2 while
// every 16-column strip of it is swept; accumulators live in acc[ib][j][16]
// between chunks. Writes the [M,N] partial for p in [k0, k1) to c.
template <int NN>
void smalln_trans_n(long k0, long k1, long M, const float* a, const float* b, long ldb, bool tb, float* c) {
  // PC rows of A (~128 KB) per chunk, so the chunk stays in L2 while its nb
  // strips are swept. The first strip's pass prefetches whole rows: without
  // it every strip fetched its own 64-byte piece of each row from DRAM, one
  // strided, latency-bound stream per strip (measured 7.9 ms for W4's
  // [60000,128]^T.[60000,10] against ~2 ms with the prefetch).
  const long PC = std::max<long>(16, std::min<long>(256, 32768 / std::max<long>(1, M)));
  const long nb = (M + 15) / 16;
  std::vector<__m512> acc(static_cast<size_t>(nb) * NN, _mm512_setzero_ps());
  for (long p0 = k0; p0 < k1; p0 += PC) {
    const long p1 = std::min(k1, p0 + PC);
    for (long ib = 0; ib < nb; ib++) {
      const long rem = M - ib * 16;
      const __mmask16 mi = rem >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << rem) - 1);
      __m512 r[NN];
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) r[j] = acc[ib * NN + j];
      if (ib == 0 && nb > 1) {
        constexpr long kAhead = 8;
        for (long p = p0; p < p1; p++) {
          if (p + kAhead < k1)
            for (long l = 16; l < M; l += 16) _mm_prefetch(reinterpret_cast<const char*>(a + (p + kAhead) * M + l), _MM_HINT_T0);
          const __m512 av = _mm512_maskz_loadu_ps(mi, a + p * M);
#pragma GCC unroll 16
          for (int j = 0; j < NN; j++) r[j] = _mm512_fmadd_ps(av, _mm512_set1_ps(tb ? b[j * ldb + p] : b[p * ldb + j]), r[j]);
        }
      } else if (!tb) {
        for (long p = p0; p < p1; p++) {
          const __m512 av = _mm512_maskz_loadu_ps(mi, a + p * M + ib * 16);
          const float* bpj = b + p * ldb;
#pragma GCC unroll 16
          for (int j = 0; j < NN; j++) r[j] = _mm512_fmadd_ps(av, _mm512_set1_ps(bpj[j]), r[j]);
        }
      } else {
        for (long p = p0; p < p1; p++) {
          const __m512 av = _mm512_maskz_loadu_ps(mi, a + p * M + ib * 16);
#pragma GCC unroll 16
          for (int j = 0; j < NN; j++) r[j] = _mm512_fmadd_ps(av, _mm512_set1_ps(b[j * ldb + p]), r[j]);
        }
      }
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) acc[ib * NN + j] = r[j];
    }
  }
  alignas(64) float lane[16];
  for (long ib = 0; ib < nb; ib++) {
    const long rows = std::min<long>(16, M - ib * 16);
    for (int j = 0; j < NN; j++) {
      _mm512_store_ps(lane, acc[ib * NN + j]);
      for (long l = 0; l < rows; l++) c[(ib * 16 + l) * NN + j] = lane[l];
    }
  }
}

}  // namespace

#elif defined(__AVX2__) && defined(__FMA__)
namespace {

// The AVX2 copies of the small-N loops above (8 lanes, 16 ymm registers):
// same structure and the same summation order per lane group. Without them
// an AVX2 machine ran W4's [60000,128].[128,10] and [60000,128]^T.[60000,10]
// through the blocked GEMM on the swapped problem: 7.2 and 8.8 ms per call.
constexpr long kLanes = 8;

inline __m256i lane_mask(long n) {  // lanes 0..n-1 set (n in 0..8)
  alignas(32) static const int ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_load_si256(reinterpret_cast<const __m256i*>(ramp)));
}

// Lane j of the result = the sum of the 8 lanes of v[j].
inline __m256 hsum8(const __m256* v) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// op(A) = A[M,K] (row-major), bt = op(B)^T packed [NN][kp] (kp = K rounded
// up to 8, zero-padded): one row at a time, NN accumulators, one horizontal
// tree per group of 8 columns.
template <int NN>
void smalln_rows_n(long i0, long i1, long K, long kp, const float* a, const float* bt, float* c) {
  constexpr int NG = (NN + 7) / 8;
  const long kfull = K / 8 * 8;
  const __m256i mk = lane_mask(K - kfull);
  for (long i = i0; i < i1; i++) {
    __m256 acc[NG * 8];
#pragma GCC unroll 16
    for (int j = 0; j < NG * 8; j++) acc[j] = _mm256_setzero_ps();
    const float* ai = a + i * K;
    for (long p = 0; p < kp; p += 8) {
      const __m256 av = p < kfull ? _mm256_loadu_ps(ai + p) : _mm256_maskload_ps(ai + p, mk);
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) acc[j] = _mm256_fmadd_ps(av, _mm256_load_ps(bt + j * kp + p), acc[j]);
    }
    for (int g = 0; g < NG; g++) {
      const __m256 s = hsum8(acc + 8 * g);
      if (8 * g + 8 <= NN)
        _mm256_storeu_ps(c + i * NN + 8 * g, s);
      else
        _mm256_maskstore_ps(c + i * NN + 8 * g, lane_mask(NN - 8 * g), s);
    }
  }
}

// op(A) = A^T with A stored [K, M]: as smalln_trans_n above, 8 consecutive i
// per ymm, p walked in L2-sized chunks, the first strip prefetching rows.
template <int NN>
void smalln_trans_n(long k0, long k1, long M, const float* a, const float* b, long ldb, bool tb, float* c) {
  const long PC = std::max<long>(16, std::min<long>(256, 32768 / std::max<long>(1, M)));
  const long nb = (M + 7) / 8;
  std::vector<__m256> acc(static_cast<size_t>(nb) * NN, _mm256_setzero_ps());
  auto bval = [&](long p, int j) { return tb ? b[j * ldb + p] : b[p * ldb + j]; };
  for (long p0 = k0; p0 < k1; p0 += PC) {
    const long p1 = std::min(k1, p0 + PC);
    for (long ib = 0; ib < nb; ib++) {
      const long rem = M - ib * 8;
      const bool full = rem >= 8;
      const __m256i mi = lane_mask(full ? 8 : rem);
      __m256 r[NN];
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) r[j] = acc[ib * NN + j];
      const bool prefetch = ib == 0 && nb > 1;
      for (long p = p0; p < p1; p++) {
        if (prefetch && p + 8 < k1)
          for (long l = 16; l < M; l += 16) _mm_prefetch(reinterpret_cast<const char*>(a + (p + 8) * M + l), _MM_HINT_T0);
        const float* ap = a + p * M + ib * 8;
        const __m256 av = full ? _mm256_loadu_ps(ap) : _mm256_maskload_ps(ap, mi);
#pragma GCC unroll 16
        for (int j = 0; j < NN; j++) r[j] = _mm256_fmadd_ps(av, _mm256_set1_ps(bval(p, j)), r[j]);
      }
#pragma GCC unroll 16
      for (int j = 0; j < NN; j++) acc[ib * NN + j] = r[j];
    }
  }
  alignas(32) float lane[8];
  for (long ib = 0; ib < nb; ib++) {
    const long rows = std::min<long>(8, M - ib * 8);
    for (int j = 0; j < NN; j++) {
      _mm256_store_ps(lane, acc[ib * NN + j]);
      for (long l = 0; l < rows; l++) c[(ib * 8 + l) * NN + j] = lane[l];
    }
  }
}

}  // namespace
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define HEMLOCK_SMALLN 1
namespace {

void smalln_rows(long i0, long i1, long N, long K, long kp, const float* a, const float* bt, float* c) {
  switch (N) {
#define HEMLOCK_CASE(n) \
  case n:               \
    return smalln_rows_n<n>(i0, i1, K, kp, a, bt, c);
    HEMLOCK_CASE(1) HEMLOCK_CASE(2) HEMLOCK_CASE(3) HEMLOCK_CASE(4) HEMLOCK_CASE(5) HEMLOCK_CASE(6)
    HEMLOCK_CASE(7) HEMLOCK_CASE(8) HEMLOCK_CASE(9) HEMLOCK_CASE(10) HEMLOCK_CASE(11) HEMLOCK_CASE(12)
    HEMLOCK_CASE(13) HEMLOCK_CASE(14) HEMLOCK_CASE(15) HEMLOCK_CASE(16)
#undef HEMLOCK_CASE
  }
}

// N as a compile-time constant, so the N accumulators are registers.
void smalln_trans(long k0, long k1, long M, long N, const float* a, const float* b, long ldb, bool tb, float* c) {
  switch (N) {
#define HEMLOCK_CASE(n) \
  case n:               \
    return smalln_trans_n<n>(k0, k1, M, a, b, ldb, tb, c);
    HEMLOCK_CASE(1) HEMLOCK_CASE(2) HEMLOCK_CASE(3) HEMLOCK_CASE(4) HEMLOCK_CASE(5) HEMLOCK_CASE(6)
    HEMLOCK_CASE(7) HEMLOCK_CASE(8) HEMLOCK_CASE(9) HEMLOCK_CASE(10) HEMLOCK_CASE(11) HEMLOCK_CASE(12)
    HEMLOCK_CASE(13) HEMLOCK_CASE(14) HEMLOCK_CASE(15) HEMLOCK_CASE(16)
#undef HEMLOCK_CASE
  }
}

// One product C[M,N] = op(A) op(B) with N <= 16, on up to T threads.
void smalln(long M, long N, long K, const float* a, bool ta, const float* b, bool tb, float* c, int T) {
  const long ldb = tb ? K : N;
  if (K == 0) {
    std::fill(c, c + M * N, 0.0f);
    return;
  }
  if (!ta) {
    // Rows are independent: split M (multiples of 8 rows) when there is enough work.
    // bt = op(B)^T [N][kp], kp = K rounded up to the lane count, zero-padded in p (the padded lanes of A are loaded as 0 too).
    const long kp = round_up(K, kLanes);
    thread_local Buffer bbuf;
    float* bt = bbuf.get(static_cast<size_t>(N) * kp);
    for (long j = 0; j < N; j++)
      for (long p = 0; p < kp; p++) bt[j * kp + p] = p < K ? (tb ? b[j * ldb + p] : b[p * ldb + j]) : 0.0f;
    const int tasks = (T > 1 && M * K >= (1L << 18)) ? T : 1;
    const long chunk = round_up((M + tasks - 1) / tasks, 8);
    if (tasks == 1) {
      smalln_rows(0, M, N, K, kp, a, bt, c);
      return;
    }
    parallel_for(tasks, [&](int t, int) {
      const long i0 = std::min(M, t * chunk), i1 = std::min(M, (t + 1) * chunk);
      if (i0 < i1) smalln_rows(i0, i1, N, K, kp, a, bt, c);
    });
    return;
  }
  // Transposed A: split K (each task a private [M,N] partial, added in task
  // order, so the result depends only on the thread count, as the K split of
  // gemm() does).
  const int tasks = (T > 1 && M * K >= (1L << 18) && K >= 2L * T * 256) ? T : 1;
  if (tasks == 1) {
    smalln_trans(0, K, M, N, a, b, ldb, tb, c);
    return;
  }
  const long chunk = round_up((K + tasks - 1) / tasks, 256);
  std::vector<float> partial(static_cast<size_t>(tasks - 1) * M * N, 0.0f);
  parallel_for(tasks, [&](int t, int) {
    const long k0 = std::min(K, t * chunk), k1 = std::min(K, (t + 1) * chunk);
    float* dst = t == 0 ? c : partial.data() + static_cast<size_t>(t - 1) * M * N;
    if (k0 < k1)
      smalln_trans(k0, k1, M, N, a, b, ldb, tb, dst);
    else
      std::fill(dst, dst + M * N, 0.0f);
  });
  for (int t = 1; t < tasks; t++) {
    const float* pt = partial.data() + static_cast<size_t>(t - 1) * M * N;
    for (long e = 0; e < M * N; e++) c[e] += pt[e];
  }
}

}  // namespace
#endif

void matmul(long batch, long M, long N, long K, const float* a, long strideA, bool transA, const float* b,
            long strideB, bool transB, float* c, int threads) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
#if defined(HEMLOCK_SMALLN)
  if (N <= 16) {
    const int T1 = std::max(1, std::min(threads, pool_threads()));
    for (long bi = 0; bi < batch; bi++)
      smalln(M, N, K, a + bi * strideA, transA, b + bi * strideB, transB, c + bi * M * N, T1);
    return;
  }
#endif
  // With N < NR most of each micro-tile would be padding; the transposed
  // problem C^T[N,M] = op(B)^T . op(A)^T puts M across the tile instead.
  const bool swap = N < NR && M > N;
  const int T = std::max(1, std::min(threads, pool_threads()));
  auto one = [&](long bi, int thr) {
    const float* ab = a + bi * strideA;
    const float* bb = b + bi * strideB;
    float* cb = c + bi * M * N;
    if (!swap) {
      MatA A(ab, transA ? M : K, transA);
      MatB B(bb, transB ? K : N, transB);
      gemm(M, N, K, A, B, cb, N, false, thr);
      return;
    }
    // op(B)^T(j, p) = op(B)(p, j) and op(A)^T(p, i) = op(A)(i, p).
    MatA A2(bb, transB ? K : N, !transB);
    MatB B2(ab, transA ? M : K, !transA);
    thread_local std::vector<float> ct;
    ct.resize(static_cast<size_t>(N) * M);
    gemm(N, M, K, A2, B2, ct.data(), M, false, thr);
    for (long i = 0; i < M; i++)
      for (long j = 0; j < N; j++) cb[i * N + j] = ct[j * M + i];
  };
  if (T > 1 && batch >= T) {
    // Many independent products: one per task, each single-threaded.
    parallel_for(static_cast<int>(batch), [&](int t, int) { one(t, 1); });
  } else {
    for (long bi = 0; bi < batch; bi++) one(bi, T);
  }
}

}  // namespace hemlock
