# Plan, massive values, calibration and the quantization job.
if HAVE_CRITERION
check_PROGRAMS += tests/test_massive tests/test_plan
TESTS += tests/test_massive tests/test_plan
tests_test_plan_SOURCES = tests/test_plan.c
tests_test_plan_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_plan_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_plan_LDADD = $(CRITERION_TEST_LIBS)
tests_test_massive_SOURCES = tests/test_massive.c
tests_test_massive_CPPFLAGS = $(TEST_CPPFLAGS)
tests_test_massive_CFLAGS = $(CRITERION_TEST_CFLAGS)
tests_test_massive_LDADD = $(CRITERION_TEST_LIBS)
endif
