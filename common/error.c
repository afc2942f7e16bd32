/* Status codes and one-line error messages. */
#include "config.h"
#include <mvquant/common.h>

#include <stdio.h>
#include <string.h>

mvq_status mvq_error_set(mvq_error *err, mvq_status status, const char *fmt, ...)
{
    if (err) {
        /* formatted aside first: callers may prefix err's own message
         * (mvq_error_set(err, st, "%s: %s", name, err->msg)) */
        char msg[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        memcpy(err->msg, msg, sizeof msg);
        err->status = status;
    }
    return status;
}

void mvq_error_clear(mvq_error *err)
{
    if (err) {
        err->status = MVQ_OK;
        err->msg[0] = '\0';
    }
}

const char *mvq_status_name(mvq_status status)
{
    switch (status) {
    case MVQ_OK: return "ok";
    case MVQ_ERR_ARG: return "bad argument";
    case MVQ_ERR_IO: return "I/O error";
    case MVQ_ERR_FORMAT: return "malformed input";
    case MVQ_ERR_NOMEM: return "out of memory";
    case MVQ_ERR_UNSUPPORTED: return "unsupported";
    case MVQ_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

const char *mvq_version(void)
{
    return PACKAGE_VERSION;
}
