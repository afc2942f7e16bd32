# `make bench`: one harness (bench/bench.c), one file per family of
# benchmarks, listed in bench/families.def.  Built with the tests' access to
# internal functions (it links the core statically); never run by make check.
noinst_PROGRAMS += bench/mvq_bench
bench_mvq_bench_SOURCES = \
	bench/bench.h \
	bench/bench.c \
	bench/bench_pool.c \
	bench/bench_kernels.c \
	bench/bench_matmul.c \
	bench/bench_int8.c \
	bench/bench_forward.c \
	bench/bench_gptq.c \
	bench/bench_probes.c \
	bench/bench_qgemm.c
bench_mvq_bench_CPPFLAGS = $(AM_CPPFLAGS)
bench_mvq_bench_LDADD = libmvq_core.la $(XXHASH_LIBS) $(ONEDNN_LIBS) -lm
EXTRA_DIST += bench/families.def

# The forward family reads the fixture models from $(MVQ_FIXTURES).
# Options go through BENCH_FLAGS, e.g. make bench BENCH_FLAGS='--quick --filter vec_dot'
BENCH_FLAGS =
bench: bench/mvq_bench$(EXEEXT)
	MVQ_FIXTURES='$(MVQ_FIXTURES)' $(LIBTOOL) --mode=execute $(EMULATOR) bench/mvq_bench$(EXEEXT) \
		--out '$(abs_top_srcdir)/bench/results' $(BENCH_FLAGS)
.PHONY: bench

# Peak resident memory of the CLI on a ~1B-parameter model (bench/bench_memory.sh;
# about 4 GiB of disk under $TMPDIR; BENCH_MEMORY_SYNTH='...' for other shapes).
bench: bench-memory
bench-memory: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/bench_memory.sh '$(abs_top_builddir)/tools/mvquant/mvquant'
EXTRA_DIST += bench/bench_memory.sh
.PHONY: bench-memory

# The 7B-shaped slice: 2-layer BF16 models with Llama-2-7B's and Llama-3-8B's
# layer shapes, one whole quantize job each, extrapolated to 32 layers and
# 16k calibration tokens (bench/bench_7b.sh; about 4 GiB of disk under
# $TMPDIR; BENCH_7B_TOKENS=16384 for the full calibration).
bench: bench-7b
bench-7b: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/bench_7b.sh '$(abs_top_builddir)/tools/mvquant/mvquant'
EXTRA_DIST += bench/bench_7b.sh
.PHONY: bench-7b

# The weight methods' quality table: both fixture models x presets x methods,
# massive values ignored and protected, PPL / mean KLD / same top p against
# the F32 model (bench/quality_table.sh; minutes; needs --with-fixtures).
bench: bench-quality
bench-quality: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/quality_table.sh '$(abs_top_builddir)/tools/mvquant/mvquant' '$(MVQ_FIXTURES)'
EXTRA_DIST += bench/quality_table.sh
.PHONY: bench-quality

# The KV-cache table: both fixture models x cache schemes (llama.cpp's cache
# types, massive K in F16, Q<->K rescaling), PPL / mean KLD / same top p
# against the F32 cache (bench/kvcache_table.sh; minutes; needs --with-fixtures).
bench: bench-kvcache
bench-kvcache: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/kvcache_table.sh '$(abs_top_builddir)/tools/mvquant/mvquant' '$(MVQ_FIXTURES)'
EXTRA_DIST += bench/kvcache_table.sh
.PHONY: bench-kvcache

# AWQ's search time per layer and per model against RTN (bench/awq_speed.sh):
# tinyrope-3M and a dim-2048 synthetic model.
bench: bench-awq-speed
bench-awq-speed: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/awq_speed.sh '$(abs_top_builddir)/tools/mvquant/mvquant' '$(MVQ_FIXTURES)'
EXTRA_DIST += bench/awq_speed.sh
.PHONY: bench-awq-speed

# The size budget's table: both fixture models at three budgets, protect
# and ignore, and a --target-bpw sweep (bench/budget_table.sh; minutes).
bench: bench-budget
bench-budget: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/budget_table.sh '$(abs_top_builddir)/tools/mvquant/mvquant' '$(MVQ_FIXTURES)'
EXTRA_DIST += bench/budget_table.sh
.PHONY: bench-budget
