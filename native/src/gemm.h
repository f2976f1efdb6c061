// Single-precision GEMM with packing and a register-blocked micro-kernel.
//
//   C[M,N] (=|+=) A[M,K] . B[K,N]          (row-major C with leading dim ldc)
//
// A and B are not matrices but *sources* that pack panels of themselves into
// the layout the micro-kernel reads. A plain (optionally transposed) matrix
// is one source; the conv kernels (conv.cc) supply im2col sources that read
// the NHWC input directly, so the im2col matrix is never materialised.
#pragma once
#include <cstddef>

namespace hemlock {

// Micro-tile: the micro-kernel computes an MR x NR block of C. Chosen at
// compile time from the ISA the compiler targets (-march=native).
#if defined(__AVX512F__)
constexpr int MR = 14;  // 14 x 2 zmm accumulators + 2 B vectors + 1 broadcast = 31 of 32 registers
constexpr int NR = 32;
constexpr const char* kIsa = "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int MR = 6;  // 6 x 2 ymm accumulators + 2 B + 1 broadcast = 15 of 16 registers
constexpr int NR = 16;
constexpr const char* kIsa = "avx2";
#else
constexpr int MR = 4;
constexpr int NR = 8;
constexpr const char* kIsa = "generic";
#endif

// Rows [i0, i0 + mr) x columns [p0, p0 + kc) of A, packed column by column:
// dst[p * MR + r] = A(i0 + r, p0 + p); rows mr..MR-1 must be written as 0.
struct ASource {
  virtual ~ASource() = default;
  virtual void pack(float* dst, long i0, int mr, long p0, int kc) const = 0;
};

// Rows [p0, p0 + kc) x columns [j0, j0 + nr) of B, packed row by row:
// dst[p * NR + j] = B(p0 + p, j0 + j); columns nr..NR-1 must be written as 0.
struct BSource {
  virtual ~BSource() = default;
  virtual void pack(float* dst, long j0, int nr, long p0, int kc) const = 0;
};

// A plain row-major matrix: A(i, p) = trans ? a[p * ld + i] : a[i * ld + p].
struct MatA final : ASource {
  const float* a;
  long ld;
  bool trans;
  MatA(const float* a_, long ld_, bool trans_) : a(a_), ld(ld_), trans(trans_) {}
  void pack(float* dst, long i0, int mr, long p0, int kc) const override;
};

// B(p, j) = trans ? b[j * ld + p] : b[p * ld + j].
struct MatB final : BSource {
  const float* b;
  long ld;
  bool trans;
  MatB(const float* b_, long ld_, bool trans_) : b(b_), ld(ld_), trans(trans_) {}
  void pack(float* dst, long j0, int nr, long p0, int kc) const override;
};

// One thread: the block [i0,i1) x [j0,j1) of C over k in [k0,k1). C points at
// element (0,0). accumulate=false overwrites C (never reads it: the wasm heap
// under a fresh output holds garbage, possibly NaN).
void gemm_serial(long i0, long i1, long j0, long j1, long k0, long k1, const ASource& A, const BSource& B,
                 float* C, long ldc, bool accumulate);

// The whole product on up to `threads` pool threads (splitting M, N or K,
// whichever duplicates the least packing work).
void gemm(long M, long N, long K, const ASource& A, const BSource& B, float* C, long ldc, bool accumulate,
          int threads);

// C = op(A) . op(B) for plain matrices (batch loop, broadcasting by stride 0).
// With AVX-512, N <= 16 (W4's [60000,128].[128,10] and [60000,128]^T .
// [60000,10]) takes unpacked small-N loops (gemm.cc, smalln); other small-N
// products (N < NR) are computed as C^T = op(B)^T op(A)^T so the wide side
// fills the micro-tile.
void matmul(long batch, long M, long N, long K, const float* a, long strideA, bool transA, const float* b,
            long strideB, bool transB, float* c, int threads);

}  // namespace hemlock
