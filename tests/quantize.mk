# Plan, massive values, calibration and the quantization job.
if HAVE_CRITERION
check_PROGRAMS += tests/test_massive tests/test_plan tests/test_gates
TESTS += tests/test_massive tests/test_plan tests/test_gates
tests_test_gates_SOURCES = tests/test_gates.c
tests_test_gates_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gates_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_gates_LDADD = $(CRITERION_TEST_LIBS)
tests_test_plan_SOURCES = tests/test_plan.c $(GGUF_TESTLIB)
tests_test_plan_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_plan_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_plan_LDADD = $(CRITERION_TEST_LIBS)
tests_test_massive_SOURCES = tests/test_massive.c
tests_test_massive_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_massive_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_massive_LDADD = $(CRITERION_TEST_LIBS)
endif

# Calibration statistics, the cache, imatrix import, self-generated text,
# and the massive-value acceptance on the fixture models.
EXTRA_DIST += tests/calib_testlib.h
if HAVE_CRITERION
CALIB_TESTS = tests/test_calib tests/test_calib_sources tests/test_layerwise tests/test_massive_models
check_PROGRAMS += $(CALIB_TESTS)
TESTS += $(CALIB_TESTS)
tests_test_calib_SOURCES = tests/test_calib.c
tests_test_calib_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_calib_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_calib_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_layerwise_SOURCES = tests/test_layerwise.c
tests_test_layerwise_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_layerwise_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_layerwise_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_calib_sources_SOURCES = tests/test_calib_sources.c
tests_test_calib_sources_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_calib_sources_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_calib_sources_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_massive_models_SOURCES = tests/test_massive_models.c
tests_test_massive_models_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_massive_models_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_massive_models_LDADD = $(CRITERION_TEST_LIBS) -lm
endif
TESTS += tests/massive_cli.sh tests/split_cli.sh tests/budget_cli.sh tests/disrupt_cli.sh
TESTS += tests/eval_cli.sh
EXTRA_DIST += tests/eval_cli.sh
EXTRA_DIST += tests/massive_cli.sh tests/split_cli.sh tests/budget_cli.sh tests/disrupt_cli.sh

# The pin: RTN outputs of the fixture models stay byte-identical.
EXTRA_DIST += tests/gates_testlib.h tests/pin/stories260K.stats.gguf tests/pin/tinyrope-3M.stats.gguf
if HAVE_CRITERION
check_PROGRAMS += tests/test_pin
TESTS += tests/test_pin
tests_test_pin_SOURCES = tests/test_pin.c
tests_test_pin_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_pin_CFLAGS = $(CRITERION_TEST_CFLAGS) $(XXHASH_CFLAGS)
tests_test_pin_LDADD = $(CRITERION_TEST_LIBS) $(XXHASH_LIBS)
endif

# The methods' seam: registry, the whole plan, transforms in the job.
if HAVE_CRITERION
check_PROGRAMS += tests/test_methods
TESTS += tests/test_methods
tests_test_methods_SOURCES = tests/test_methods.c
tests_test_methods_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_methods_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_methods_LDADD = $(CRITERION_TEST_LIBS)
endif

# SmoothQuant and AWQ: folding exactness, their gates.
if HAVE_CRITERION
check_PROGRAMS += tests/test_awq
TESTS += tests/test_awq
tests_test_awq_SOURCES = tests/test_awq.c
tests_test_awq_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_awq_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_awq_LDADD = $(CRITERION_TEST_LIBS) -lm
check_PROGRAMS += tests/test_awq_clip
TESTS += tests/test_awq_clip
tests_test_awq_clip_SOURCES = tests/test_awq_clip.c
tests_test_awq_clip_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_awq_clip_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_awq_clip_LDADD = $(CRITERION_TEST_LIBS) -lm
check_PROGRAMS += tests/test_awq_gates
TESTS += tests/test_awq_gates
tests_test_awq_gates_SOURCES = tests/test_awq_gates.c
tests_test_awq_gates_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_awq_gates_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_awq_gates_LDADD = $(CRITERION_TEST_LIBS) -lm
endif

# GPTQ: the solver on one matrix against RTN.
if HAVE_CRITERION
check_PROGRAMS += tests/test_gptq_solve
TESTS += tests/test_gptq_solve
tests_test_gptq_solve_SOURCES = tests/test_gptq_solve.c
tests_test_gptq_solve_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gptq_solve_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_gptq_solve_LDADD = $(CRITERION_TEST_LIBS) -lm
endif

# GPTQ's gates on the fixture models (heavy: skipped with MVQ_TEST_HEAVY=no).
if HAVE_CRITERION
check_PROGRAMS += tests/test_gptq_gates
TESTS += tests/test_gptq_gates
tests_test_gptq_gates_SOURCES = tests/test_gptq_gates.c
tests_test_gptq_gates_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_gptq_gates_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_gptq_gates_LDADD = $(CRITERION_TEST_LIBS) -lm
endif

# The size budget: its solver against brute force (plain TAP).
check_PROGRAMS += tests/test_budget_solve
TESTS += tests/test_budget_solve
tests_test_budget_solve_SOURCES = tests/test_budget_solve.c
tests_test_budget_solve_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_budget_solve_LDADD = $(TEST_LIBS) -lm

# The size budget's gates on the fixture models (heavy: MVQ_TEST_HEAVY).
if HAVE_CRITERION
check_PROGRAMS += tests/test_budget_gates
TESTS += tests/test_budget_gates
tests_test_budget_gates_SOURCES = tests/test_budget_gates.c
tests_test_budget_gates_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_budget_gates_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_budget_gates_LDADD = $(CRITERION_TEST_LIBS)
endif
