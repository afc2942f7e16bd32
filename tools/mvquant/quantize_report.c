/* The main job's report: the totals, the massive values found and what
 * protecting them cost, and one line per tensor (text), or all of it as
 * one JSON object (--json). */
#include "config.h"
#include "tools/mvquant/cli.h"
#include "tools/mvquant/quantize_report.h"

#include <mvquant/methods.h>
#include <stdio.h>
#include <string.h>

void quantize_print_report(const quantize_job_view *a, const mvq_quantize_report *r, const mvq_calib_info *ci,
                           double calib_seconds)
{
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "input"); cli_json_str(&j, a->in);
        cli_json_key(&j, "output"); cli_json_str(&j, a->out);
        cli_json_key(&j, "files"); cli_json_u64(&j, (uint64_t)r->n_files);
        cli_json_key(&j, "type"); cli_json_str(&j, a->type_name);
        cli_json_key(&j, "method"); cli_json_str(&j, a->q->method->name);
        if (a->q->method->layerwise) {
            cli_json_key(&j, "sequential"); cli_json_bool(&j, a->q->sequential);
        }
        cli_json_key(&j, "massive"); cli_json_str(&j, a->q->protect_massive ? "protect" : "ignore");
        cli_json_key(&j, "massive_type"); cli_json_str(&j, mvq_type_name(a->q->massive_type));
        cli_json_key(&j, "lambda"); cli_json_f64(&j, a->q->massive.lambda);
        cli_json_key(&j, "topk"); cli_json_i64(&j, a->q->massive.topk);
        cli_json_key(&j, "calibration_tokens"); cli_json_i64(&j, ci ? ci->n_tokens : 0);
        cli_json_key(&j, "layers_with_massive"); cli_json_i64(&j, r->n_layers_massive);
        cli_json_key(&j, "massive_q"); cli_json_i64(&j, r->n_massive_q);
        cli_json_key(&j, "massive_k"); cli_json_i64(&j, r->n_massive_k);
        cli_json_key(&j, "tensors");
        cli_json_begin_array(&j);
        for (int64_t i = 0; i < r->n_tensors; i++) {
            const mvq_tensor_report *t = &r->tensors[i];
            cli_json_begin_object(&j);
            cli_json_key(&j, "name"); cli_json_str(&j, t->name);
            cli_json_key(&j, "from"); cli_json_str(&j, mvq_type_name(t->from));
            cli_json_key(&j, "type"); cli_json_str(&j, mvq_type_name(t->to));
            cli_json_key(&j, "bytes"); cli_json_u64(&j, t->bytes);
            cli_json_key(&j, "quantized"); cli_json_bool(&j, t->quantized);
            cli_json_key(&j, "fallback"); cli_json_bool(&j, t->fallback);
            cli_json_key(&j, "protected"); cli_json_bool(&j, t->is_protected);
            if (t->quantized) {
                cli_json_key(&j, "rel_err"); cli_json_f64(&j, t->rel_err);
            }
            if (t->n_massive_rows) {
                cli_json_key(&j, "massive_rows"); cli_json_i64(&j, t->n_massive_rows);
                cli_json_key(&j, "massive_rel_err"); cli_json_f64(&j, t->massive_rel_err);
            }
            if (t->quantized && a->q->method->layerwise) {
                cli_json_key(&j, "no_stats"); cli_json_bool(&j, t->no_stats);
                if (t->out_err[0] >= 0) {
                    cli_json_key(&j, "out_err"); cli_json_f64(&j, t->out_err[0]);
                    if (t->out_err[1] >= 0) {
                        cli_json_key(&j, "out_err_refit"); cli_json_f64(&j, t->out_err[1]);
                    }
                    cli_json_key(&j, "out_err_kept"); cli_json_str(&j, t->out_err_kept ? "refit" : "first");
                }
            }
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_key(&j, "weights"); cli_json_u64(&j, r->n_weights);
        cli_json_key(&j, "bytes_in"); cli_json_u64(&j, r->bytes_in);
        cli_json_key(&j, "bytes_out"); cli_json_u64(&j, r->bytes_out);
        cli_json_key(&j, "file_bytes"); cli_json_u64(&j, r->file_bytes);
        cli_json_key(&j, "protect_bytes"); cli_json_u64(&j, r->protect_bytes);
        cli_json_key(&j, "bpw"); cli_json_f64(&j, r->bpw);
        cli_json_key(&j, "seconds"); cli_json_f64(&j, r->seconds);
        cli_json_key(&j, "calibration_seconds"); cli_json_f64(&j, calib_seconds);
        cli_json_end_object(&j);
        cli_json_finish(&j);
        return;
    }
    printf("%-28s %-7s %-7s %10s %9s  %s\n", "tensor", "from", "to", "bytes", "rel.err", "massive rows (rel.err)");
    for (int64_t i = 0; i < r->n_tensors; i++) {
        const mvq_tensor_report *t = &r->tensors[i];
        cli_print_name(stdout, t->name, strlen(t->name), 28);
        printf(" %-7s %-7s %10llu ", mvq_type_name(t->from), mvq_type_name(t->to), (unsigned long long)t->bytes);
        if (t->quantized)
            printf("%9.5f", t->rel_err);
        else
            printf("%9s", "copied");
        if (t->n_massive_rows)
            printf("  %d", t->n_massive_rows);
        if (t->n_massive_rows && t->massive_rel_err >= 0)
            printf(" (%.5f)", t->massive_rel_err);
        printf("%s%s", t->is_protected ? "  protected" : "", t->fallback ? "  fallback" : "");
        if (t->quantized && a->q->method->layerwise && t->out_err[0] >= 0) {
            printf("  tr(dW H dW^T) %.4g", t->out_err[0]);
            if (t->out_err[1] >= 0)
                printf(", refit %.4g (%s kept)", t->out_err[1], t->out_err_kept ? "refit" : "first");
        } else if (t->quantized && a->q->method->layerwise && t->no_stats) {
            printf("  no statistics: rounded to nearest");
        }
        printf("\n");
    }
    char parts[64] = "";
    if (a->q->keep_split)
        snprintf(parts, sizeof parts, "-*-of-%05lld.gguf (%lld file%s)", (long long)r->n_files, (long long)r->n_files,
                 cli_plural(r->n_files));
    printf("\n%s -> %s%s: %llu weights, %.3f bits per weight, %llu bytes (tensor data %llu -> %llu)\n", a->in, a->out,
           parts, (unsigned long long)r->n_weights, r->bpw, (unsigned long long)r->file_bytes,
           (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
    if (!ci) {
        printf("massive values: not detected (no calibration)\n");
        printf("elapsed %.2f s\n", r->seconds);
        return;
    }
    char rule[64];
    if (a->q->massive.topk > 0)
        snprintf(rule, sizeof rule, "top-%d per head", a->q->massive.topk);
    else
        snprintf(rule, sizeof rule, "M > %g x head mean", a->q->massive.lambda);
    printf("massive values: %s (rule: %s); %d layer%s with massive Q/K dimensions (%d in Q, %d in K); "
           "protection cost %llu bytes (%.2f%%)\n",
           a->q->protect_massive ? "protected" : "ignored", rule, r->n_layers_massive, cli_plural(r->n_layers_massive),
           r->n_massive_q, r->n_massive_k,
           (unsigned long long)r->protect_bytes,
           r->bytes_out ? 100.0 * (double)r->protect_bytes / (double)(r->bytes_out - r->protect_bytes) : 0.0);
    printf("elapsed %.2f s: calibration %.2f s, quantization %.2f s\n", calib_seconds + r->seconds, calib_seconds,
           r->seconds);
}
