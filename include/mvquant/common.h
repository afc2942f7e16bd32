/* mvquant: status codes, error messages and version. */
#ifndef MVQUANT_COMMON_H
#define MVQUANT_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(MVQ_BUILDING_LIBRARY)
#define MVQ_API __attribute__((visibility("default")))
#else
#define MVQ_API
#endif

/* Every library function that can fail returns one of these and, when given
 * an mvq_error, fills it with one line naming the file and the problem.
 * Only the CLI prints messages and chooses exit codes. */
typedef enum mvq_status {
    MVQ_OK = 0,
    MVQ_ERR_ARG = 1,         /* bad argument from the caller (usage) */
    MVQ_ERR_IO = 2,          /* open/read/write/rename failed */
    MVQ_ERR_FORMAT = 3,      /* malformed or unsupported input file */
    MVQ_ERR_NOMEM = 4,       /* allocation failed */
    MVQ_ERR_UNSUPPORTED = 5, /* valid, but not something we handle */
    MVQ_ERR_INTERRUPTED = 6  /* stopped by a signal */
} mvq_status;

typedef struct mvq_error {
    mvq_status status;
    char msg[512];
} mvq_error;

/* Sets status and a printf-style message; returns status. err may be NULL. */
MVQ_API mvq_status mvq_error_set(mvq_error *err, mvq_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
MVQ_API void mvq_error_clear(mvq_error *err);
MVQ_API const char *mvq_status_name(mvq_status status);

/* "0.1.0" */
MVQ_API const char *mvq_version(void);

#ifdef __cplusplus
}
#endif
#endif
