// Package kernel holds the project's order-fixed numeric kernels: every
// floating-point operation whose result lands in an artifact goes through
// code whose evaluation order is fixed and documented here, so that the
// same inputs give the same bits on every architecture (amd64, arm64, ...),
// every GOMAXPROCS and every build.
//
// Two rules make that hold:
//
//   - No implicit fusion. The Go compiler fuses x*y + z into one FMA on
//     arm64 (and ppc64le, s390x, riscv64) but not on amd64 (GOAMD64=v1), so
//     the same source rounds differently. Every product that is added is
//     written float64(x*y) + z (the explicit conversion forbids fusion), or
//     math.FMA(x, y, z) where a fused multiply-add is wanted on purpose:
//     math.FMA rounds once on every platform (hardware or software).
//
//   - One order per reduction. The library's reductions are:
//
//     Dot(x, y): sixteen partial sums s[l], l = 0..15; s[l] accumulates
//     x[i]*y[i] for i = l mod 16 over the full blocks of 16, each step one
//     FMA: s[l] = fma(x[i], y[i], s[l]). They are combined as
//     c[j] = (s[j] + s[4+j]) + (s[8+j] + s[12+j]) for j = 0..3, then
//     r = (c[0] + c[2]) + (c[1] + c[3]); the n mod 16 tail elements are then
//     added in index order, r = fma(x[i], y[i], r).
//
//     Axpy-type updates (Axpy, GemmNN, GemmTN): y[i] = fma(alpha, x[i], y[i]),
//     elementwise; a matrix product C += A B is a sequence of such updates in
//     increasing order of the summation index t.
//
//     GemmNT (C = alpha A B^T + beta C): every entry is one Dot of a row of
//     A and a row of B, then scaled as documented there.
//
//     GemmNNAdd (C += A B): every entry is one chain of FMAs in increasing t,
//     C_ij = fma(A_it, B_tj, C_ij), no term skipped (the amd64 kernel keeps
//     a 6 x 8 or 4 x 8 block of C in registers over the whole chain).
//
//     DotAxpy(alpha, x, v, z): Dot(x, v) and Axpy(alpha, x, z), reading x
//     once (one row of a symmetric product on one triangle).
//
// ReLU(out, d1, x) is elementwise (no reduction): out = x and d1 = 1 where
// x > 0, +0 elsewhere.
//
// The amd64 build computes Dot, Axpy, DotAxpy, GemmNNAdd and ReLU with AVX2+FMA assembly when the CPU
// has it (checked at run time) and the plain-Go code otherwise; both follow
// the order above and give identical bits (tested). Exp, Log and Tanh are
// fusion-free ports of the Go standard library's pure-Go code (the library
// uses assembly for Exp on amd64 and arm64 with different results, and its
// pure-Go Log and Tanh get fused on arm64), and NormFloat64 is math/rand/v2's
// ziggurat with those functions, so random draws do not depend on the
// machine either.
//
// Matrices are row-major with an explicit stride (leading dimension);
// destinations come first; shape mismatches panic, as in gonum.
package kernel
