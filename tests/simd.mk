# Every instruction set's kernels against the scalar reference (plain TAP:
# also runs under qemu-aarch64 in the cross build).  Where SIMDe is found the
# AVX-512 kernels are also checked through its emulation, on any x86 CPU.
check_PROGRAMS += tests/simd_vs_ref
TESTS += tests/simd_vs_ref
tests_simd_vs_ref_SOURCES = tests/simd_vs_ref.c tests/rng.h tests/upper_state.h
if HAVE_SIMDE
tests_simd_vs_ref_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_TEST_SIMDE
tests_simd_vs_ref_LDADD = libmvq_avx512_simde.la $(TEST_LIBS)
else
tests_simd_vs_ref_CPPFLAGS = $(TEST_CPPFLAGS)
tests_simd_vs_ref_LDADD = $(TEST_LIBS)
endif
# The reference quantizers' output pinned by hashes over a large input set,
# and every instruction set's from_float against it (plain TAP).
check_PROGRAMS += tests/quant_checksum
TESTS += tests/quant_checksum
tests_quant_checksum_SOURCES = tests/quant_checksum.c tests/quant_checksum.inc tests/rng.h tests/golden.c tests/golden.h
if HAVE_SIMDE
tests_quant_checksum_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_TEST_SIMDE
tests_quant_checksum_LDADD = libmvq_avx512_simde.la $(TEST_LIBS)
else
tests_quant_checksum_CPPFLAGS = $(TEST_CPPFLAGS)
tests_quant_checksum_LDADD = $(TEST_LIBS)
endif
# The F16/BF16 GEMMs against the double-precision reference and through
# the pool at several thread counts (plain TAP).
check_PROGRAMS += tests/gemm_half_vs_ref
TESTS += tests/gemm_half_vs_ref
tests_gemm_half_vs_ref_SOURCES = tests/gemm_half_vs_ref.c tests/rng.h tests/upper_state.h
if HAVE_SIMDE
tests_gemm_half_vs_ref_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_TEST_SIMDE
tests_gemm_half_vs_ref_LDADD = libmvq_avx512_simde.la $(TEST_LIBS) -lm
else
tests_gemm_half_vs_ref_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gemm_half_vs_ref_LDADD = $(TEST_LIBS) -lm
endif
# Every table's tiled quantized GEMM bit for bit against its own vec_dot per
# pair, and through the pool at several thread counts (plain TAP).
check_PROGRAMS += tests/gemm_q_vs_dot
TESTS += tests/gemm_q_vs_dot
tests_gemm_q_vs_dot_SOURCES = tests/gemm_q_vs_dot.c tests/rng.h tests/upper_state.h
if HAVE_SIMDE
tests_gemm_q_vs_dot_CPPFLAGS = $(TEST_CPPFLAGS) -DMVQ_TEST_SIMDE
tests_gemm_q_vs_dot_LDADD = libmvq_avx512_simde.la $(TEST_LIBS) -lm
else
tests_gemm_q_vs_dot_CPPFLAGS = $(TEST_CPPFLAGS)
tests_gemm_q_vs_dot_LDADD = $(TEST_LIBS) -lm
endif
