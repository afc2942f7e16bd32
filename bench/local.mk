# Peak resident memory of the CLI on a ~1B-parameter model (bench/bench_memory.sh;
# about 4 GiB of disk under $TMPDIR; BENCH_MEMORY_SYNTH='...' for other shapes).
bench: bench-memory
bench-memory: tools/mvquant/mvquant$(EXEEXT)
	$(SHELL) $(top_srcdir)/bench/bench_memory.sh '$(abs_top_builddir)/tools/mvquant/mvquant'
EXTRA_DIST += bench/bench_memory.sh
.PHONY: bench bench-memory
