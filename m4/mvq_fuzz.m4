# MVQ_ENABLE_FUZZ
# ---------------
# --enable-fuzz: builds the libFuzzer harnesses of tests/fuzz/ and
# instruments the whole build for them (coverage feedback, AddressSanitizer,
# UndefinedBehaviorSanitizer).  Needs clang and its runtime (Debian:
# clang, libclang-rt-14-dev): ./configure --enable-fuzz CC=clang.
# Sets the automake conditional ENABLE_FUZZ.
AC_DEFUN([MVQ_ENABLE_FUZZ], [
  AC_ARG_ENABLE([fuzz],
    [AS_HELP_STRING([--enable-fuzz], [build the libFuzzer harnesses (make fuzz); instruments everything with ASan and UBSan; needs CC=clang])],
    [], [enable_fuzz=no])
  AS_IF([test "x$enable_fuzz" = xyes], [
    FUZZ_CFLAGS="-g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
    AC_CACHE_CHECK([whether $CC links libFuzzer programs], [mvq_cv_libfuzzer], [
      mvq_save_CFLAGS=$CFLAGS
      CFLAGS="$CFLAGS $FUZZ_CFLAGS -fsanitize=fuzzer"
      AC_LINK_IFELSE([AC_LANG_SOURCE([[#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return data && size > 99; }]])],
        [mvq_cv_libfuzzer=yes], [mvq_cv_libfuzzer=no])
      CFLAGS=$mvq_save_CFLAGS])
    AS_IF([test "x$mvq_cv_libfuzzer" != xyes],
      [AC_MSG_ERROR([--enable-fuzz needs clang with libFuzzer: CC=clang (Debian: clang libclang-rt-14-dev)])])
    CFLAGS="$CFLAGS $FUZZ_CFLAGS"
  ])
  AM_CONDITIONAL([ENABLE_FUZZ], [test "x$enable_fuzz" = xyes])
])
