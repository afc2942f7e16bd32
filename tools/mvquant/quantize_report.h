/* The main job's report, as text or JSON (--json). */
#ifndef MVQ_QUANTIZE_REPORT_H
#define MVQ_QUANTIZE_REPORT_H

#include <mvquant/quantize.h>

/* What the report says of the job besides its outcome. */
typedef struct quantize_job_view {
    const mvq_quantize_opts *q;
    const char *in, *out, *type_name;
    bool json;
} quantize_job_view;

/* Prints rep (ci: how the statistics were obtained, NULL without). */
void quantize_print_report(const quantize_job_view *a, const mvq_quantize_report *r, const mvq_calib_info *ci,
                           double calib_seconds);

#endif
