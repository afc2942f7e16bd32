# MVQ_CHECK_SIMD(NAME, FLAGS, INCLUDES, BODY)
# -------------------------------------------
# Links a program that uses a real intrinsic of the instruction set with
# FLAGS added; sets mvq_cv_simd_NAME to yes or no.  A flag the compiler
# merely accepts is not trusted: the intrinsic must compile and link.
AC_DEFUN([MVQ_CHECK_SIMD], [
  AC_CACHE_CHECK([whether $CC can build $1 code with $2], [mvq_cv_simd_$1], [
    mvq_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS $2"
    AC_LINK_IFELSE([AC_LANG_PROGRAM([$3], [$4])],
                   [mvq_cv_simd_$1=yes], [mvq_cv_simd_$1=no])
    CFLAGS=$mvq_save_CFLAGS])
])

# MVQ_CHECK_CFLAG(FLAG, VAR)
# --------------------------
# Appends FLAG to VAR when the compiler accepts it without warnings.
AC_DEFUN([MVQ_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([mvq_cv], [mvq_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [mvq_cv], [
    mvq_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])], [AS_VAR_SET([mvq_cv], [yes])], [AS_VAR_SET([mvq_cv], [no])])
    CFLAGS=$mvq_save_CFLAGS])
  AS_VAR_IF([mvq_cv], [yes], [$2="$$2 $1"])
  AS_VAR_POPDEF([mvq_cv])
])
