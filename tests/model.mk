# Model view, forward pass (against the double reference), hooks, evaluation.
EXTRA_DIST += tests/synth_model.h tests/kv_testlib.h
if HAVE_CRITERION
MODEL_TESTS = tests/test_forward tests/test_hooks tests/test_model tests/test_eval tests/test_kvcache tests/test_disrupt \
	tests/test_kv_channel
check_PROGRAMS += $(MODEL_TESTS)
TESTS += $(MODEL_TESTS)
tests_test_forward_SOURCES = tests/test_forward.c
tests_test_forward_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_forward_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_forward_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_hooks_SOURCES = tests/test_hooks.c
tests_test_hooks_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_hooks_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_hooks_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_model_SOURCES = tests/test_model.c
tests_test_model_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_model_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_model_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_eval_SOURCES = tests/test_eval.c
tests_test_eval_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_eval_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_eval_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_kvcache_SOURCES = tests/test_kvcache.c
tests_test_kvcache_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_kvcache_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_kvcache_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_disrupt_SOURCES = tests/test_disrupt.c
tests_test_disrupt_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_disrupt_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_disrupt_LDADD = $(CRITERION_TEST_LIBS) -lm
tests_test_kv_channel_SOURCES = tests/test_kv_channel.c
tests_test_kv_channel_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_kv_channel_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_kv_channel_LDADD = $(CRITERION_TEST_LIBS) -lm
endif

# The contextual and parametric probes (mvquant eval's library side).
if HAVE_CRITERION
check_PROGRAMS += tests/test_probes
TESTS += tests/test_probes
tests_test_probes_SOURCES = tests/test_probes.c
tests_test_probes_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_probes_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_probes_LDADD = $(CRITERION_TEST_LIBS) -lm
endif
EXTRA_DIST += tests/data/tinystories-facts.tsv

# Int8 activations (W8A8) on the reference pass, and their gates on the fixture models.
if HAVE_CRITERION
check_PROGRAMS += tests/test_act_int8
TESTS += tests/test_act_int8
tests_test_act_int8_SOURCES = tests/test_act_int8.c
tests_test_act_int8_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_act_int8_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_act_int8_LDADD = $(CRITERION_TEST_LIBS) -lm
endif
