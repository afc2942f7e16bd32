/* mvq_bench: runs the benchmark families of bench/families.def and prints
 * one table (or JSON) with every figure against its reference of the same
 * run; writes the same rows as CSV under bench/results/. */
#include "config.h"
#include "bench/bench.h"

#include <mvquant/kernels.h>

#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef MVQ_HAVE_ONEDNN
#include <dnnl.h>
#endif

struct bench_ctx {
    bool quick, json, have_filter;
    int max_threads;
    regex_t filter;
    const char *out_dir;
    char command[1024];
    char machine[256];
    char isa_line[256];
    char onednn[64];
    char started[32];
    bench_row *rows;
    size_t n_rows, cap_rows;
    char **notes;
    size_t n_notes;
    FILE *table; /* stdout, or stderr with --json */
    int n_starved; /* single-thread cases that got < 80% of a core */
};

typedef struct family {
    const char *name, *what;
    void (*run)(bench_ctx *);
} family;

static const family families[] = {
#define BENCH_FAMILY(n, w) { #n, w, bench_##n },
#include "bench/families.def"
#undef BENCH_FAMILY
};

/* ---- time ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static uint64_t ticks(void) { return __rdtsc(); }
const char *bench_tick_name(void) { return "cyc"; }
#elif defined(__aarch64__)
static uint64_t ticks(void)
{
    uint64_t v;
    __asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
const char *bench_tick_name(void) { return "tick"; }
#else
static uint64_t ticks(void) { return 0; }
const char *bench_tick_name(void) { return "tick"; }
#endif

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Time-stamp ticks per second, measured once against the monotonic clock
 * (to turn CPU time into ticks). */
static double tick_rate(void)
{
    static double rate;
    if (rate == 0) {
        double t0 = now_s();
        uint64_t k0 = ticks();
        while (now_s() - t0 < 0.02)
            ;
        rate = (double)(ticks() - k0) / (now_s() - t0);
    }
    return rate;
}

static bench_timing time_with(bench_ctx *ctx, void (*fn)(void *arg), void *arg, bool cpu)
{
    const double warm_s = ctx->quick ? 0.01 : 0.05;
    const double rep_s = ctx->quick ? 0.004 : 0.02;
    const double budget_s = ctx->quick ? 0.3 : 2.0;
    enum { MAX_REPS = 15 };
    double (*clock_s)(void) = cpu ? thread_cpu_s : now_s;

    /* warm-up (caches, page faults, the pool's threads), and a first estimate */
    int calls = 0;
    double t0 = clock_s(), elapsed;
    do {
        fn(arg);
        calls++;
        elapsed = clock_s() - t0;
    } while (elapsed < warm_s);
    double per_call = elapsed / calls;

    int inner = per_call >= rep_s ? 1 : (int)(rep_s / per_call);
    int reps = ctx->quick ? 5 : 11;
    while (reps > 3 && reps * inner * per_call > budget_s)
        reps -= 2;

    double secs[MAX_REPS], tks[MAX_REPS];
    double wall = 0, busy = 0;
    for (int r = 0; r < reps; r++) {
        double w0 = now_s(), s0 = clock_s();
        uint64_t k0 = ticks();
        for (int i = 0; i < inner; i++)
            fn(arg);
        uint64_t k1 = ticks();
        double s = clock_s() - s0;
        secs[r] = s / inner;
        tks[r] = cpu ? secs[r] * tick_rate() : (double)(k1 - k0) / inner;
        wall += now_s() - w0;
        busy += s;
    }
    if (cpu && busy < 0.8 * wall)
        ctx->n_starved++;
    return (bench_timing){ median(secs, reps), median(tks, reps), reps, inner };
}

bench_timing bench_time(bench_ctx *ctx, void (*fn)(void *arg), void *arg)
{
    return time_with(ctx, fn, arg, false);
}

bench_timing bench_time_cpu(bench_ctx *ctx, void (*fn)(void *arg), void *arg)
{
    return time_with(ctx, fn, arg, true);
}

/* ---- options the families read ---- */

bool bench_quick(const bench_ctx *ctx) { return ctx->quick; }
int bench_max_threads(const bench_ctx *ctx) { return ctx->max_threads; }

bool bench_wants(const bench_ctx *ctx, const char *group, const char *name, const char *variant)
{
    if (!ctx->have_filter)
        return true;
    char key[512];
    snprintf(key, sizeof key, "%s/%s/%s", group, name, variant);
    return regexec(&ctx->filter, key, 0, NULL, 0) == 0;
}

void *bench_alloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "mvq_bench: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    memset(p, 0, bytes);
    return p;
}

void bench_fill(float *v, size_t n, float scale, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = scale * (float)((double)(s >> 40) / (double)(1u << 23) - 1.0);
    }
}

/* ---- output ---- */

static double speedup(const bench_row *r, double base)
{
    if (base <= 0 || r->value <= 0)
        return 0;
    return r->lower_is_better ? base / r->value : r->value / base;
}

static void print_table_head(bench_ctx *ctx)
{
    fprintf(ctx->table, "%-10s %-22s %-16s %3s %11s %-8s %11s %11s  %s\n", "group", "case", "variant",
            "thr", "value", "unit", "vs ref", "vs alt", "also");
}

static void print_row(bench_ctx *ctx, const bench_row *r)
{
    char vs_ref[32] = "", vs_alt[32] = "", also[48] = "";
    if (r->ref > 0)
        snprintf(vs_ref, sizeof vs_ref, "%.2fx %s", speedup(r, r->ref),
                 r->ref_name ? r->ref_name : "ref");
    if (r->alt > 0)
        snprintf(vs_alt, sizeof vs_alt, "%.2fx %s", speedup(r, r->alt),
                 r->alt_name ? r->alt_name : "alt");
    if (r->extra_unit)
        snprintf(also, sizeof also, "%.4g %s", r->extra, r->extra_unit);
    char thr[16] = "-";
    if (r->threads > 0)
        snprintf(thr, sizeof thr, "%d", r->threads);
    fprintf(ctx->table, "%-10s %-22s %-16s %3s %11.4g %-8s %11s %11s  %s\n", r->group, r->name,
            r->variant, thr, r->value, r->unit, vs_ref, vs_alt, also);
    fflush(ctx->table);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void bench_report(bench_ctx *ctx, const bench_row *row)
{
    if (ctx->n_rows == ctx->cap_rows) {
        ctx->cap_rows = ctx->cap_rows ? 2 * ctx->cap_rows : 64;
        ctx->rows = realloc(ctx->rows, ctx->cap_rows * sizeof *ctx->rows);
        if (!ctx->rows) {
            fprintf(stderr, "mvq_bench: out of memory\n");
            exit(2);
        }
    }
    bench_row *r = &ctx->rows[ctx->n_rows++];
    *r = *row; /* the strings may be the caller's buffers: keep copies */
    r->group = strdup(row->group);
    r->name = strdup(row->name);
    r->variant = strdup(row->variant);
    r->unit = strdup(row->unit);
    r->ref_name = dup_or_null(row->ref_name);
    r->alt_name = dup_or_null(row->alt_name);
    r->extra_unit = dup_or_null(row->extra_unit);
    print_row(ctx, r);
}

void bench_note(bench_ctx *ctx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **n = realloc(ctx->notes, (ctx->n_notes + 1) * sizeof *n);
    if (!n)
        return;
    ctx->notes = n;
    ctx->notes[ctx->n_notes++] = strdup(buf);
    fprintf(ctx->table, "# note: %s\n", buf);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_field(FILE *f, const char *key, const char *s, bool last)
{
    json_string(f, key);
    fputc(':', f);
    if (s)
        json_string(f, s);
    else
        fputs("null", f);
    fputs(last ? "" : ",", f);
}

static void write_json(const bench_ctx *ctx, FILE *f)
{
    fputs("{", f);
    json_field(f, "command", ctx->command, false);
    json_field(f, "machine", ctx->machine, false);
    json_field(f, "isa", ctx->isa_line, false);
    json_field(f, "onednn", ctx->onednn, false);
    json_field(f, "started", ctx->started, false);
    fprintf(f, "\"quick\":%s,\"rows\":[", ctx->quick ? "true" : "false");
    for (size_t i = 0; i < ctx->n_rows; i++) {
        const bench_row *r = &ctx->rows[i];
        fputs(i ? ",\n{" : "\n{", f);
        json_field(f, "group", r->group, false);
        json_field(f, "case", r->name, false);
        json_field(f, "variant", r->variant, false);
        fprintf(f, "\"threads\":%d,\"value\":%.6g,", r->threads, r->value);
        json_field(f, "unit", r->unit, false);
        fprintf(f, "\"lower_is_better\":%s,", r->lower_is_better ? "true" : "false");
        json_field(f, "ref_name", r->ref_name, false);
        fprintf(f, "\"ref\":%.6g,\"speedup_vs_ref\":%.4f,", r->ref, speedup(r, r->ref));
        json_field(f, "alt_name", r->alt_name, false);
        fprintf(f, "\"alt\":%.6g,\"speedup_vs_alt\":%.4f,", r->alt, speedup(r, r->alt));
        json_field(f, "extra_unit", r->extra_unit, false);
        fprintf(f, "\"extra\":%.6g}", r->extra);
    }
    fputs("],\"notes\":[", f);
    for (size_t i = 0; i < ctx->n_notes; i++) {
        if (i)
            fputc(',', f);
        json_string(f, ctx->notes[i]);
    }
    fputs("]}\n", f);
}

static void csv_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(const bench_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# command: %s\n# machine: %s\n# isa: %s\n# onednn: %s\n# started: %s\n",
            ctx->command, ctx->machine, ctx->isa_line, ctx->onednn, ctx->started);
    fputs("group,case,variant,threads,value,unit,ref_name,ref,speedup_vs_ref,alt_name,alt,"
          "speedup_vs_alt,extra,extra_unit\n", f);
    for (size_t i = 0; i < ctx->n_rows; i++) {
        const bench_row *r = &ctx->rows[i];
        csv_string(f, r->group), fputc(',', f);
        csv_string(f, r->name), fputc(',', f);
        csv_string(f, r->variant);
        fprintf(f, ",%d,%.6g,", r->threads, r->value);
        csv_string(f, r->unit), fputc(',', f);
        csv_string(f, r->ref_name);
        fprintf(f, ",%.6g,%.4f,", r->ref, speedup(r, r->ref));
        csv_string(f, r->alt_name);
        fprintf(f, ",%.6g,%.4f,%.6g,", r->alt, speedup(r, r->alt), r->extra);
        csv_string(f, r->extra_unit);
        fputc('\n', f);
    }
    return fclose(f);
}

/* ---- header ---- */

static void describe_machine(bench_ctx *ctx)
{
    char model[160] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            /* x86: "model name"; aarch64 has no name, only a part number */
            if (strncmp(line, "model name", 10) == 0 || strncmp(line, "CPU part", 8) == 0) {
                char *colon = strchr(line, ':');
                if (colon) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    mvq_pool *pool = mvq_pool_create(0);
    snprintf(ctx->machine, sizeof ctx->machine, "%s, %d cores", model, mvq_pool_size(pool));
    mvq_pool_free(pool);

    char compiled[96] = "", supported[96] = "";
    for (int i = 0; i < MVQ_ISA_COUNT; i++) {
        if (mvq_isa_compiled((mvq_isa)i))
            snprintf(compiled + strlen(compiled), sizeof compiled - strlen(compiled), " %s",
                     mvq_isa_name((mvq_isa)i));
        if (mvq_isa_supported((mvq_isa)i))
            snprintf(supported + strlen(supported), sizeof supported - strlen(supported), " %s",
                     mvq_isa_name((mvq_isa)i));
    }
    snprintf(ctx->isa_line, sizeof ctx->isa_line, "selected %s; supported%s; compiled%s",
             mvq_isa_name(mvq_isa_selected()), supported, compiled);
#ifdef MVQ_HAVE_ONEDNN
    const dnnl_version_t *v = dnnl_version();
    snprintf(ctx->onednn, sizeof ctx->onednn, "%d.%d.%d (cpu runtime %s)", v->major, v->minor,
             v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
#else
    snprintf(ctx->onednn, sizeof ctx->onednn, "not built in");
#endif
    time_t t = time(NULL);
    strftime(ctx->started, sizeof ctx->started, "%Y-%m-%d %H:%M:%S", localtime(&t));
}

static void usage(FILE *f)
{
    fputs("usage: mvq_bench [--quick] [--filter REGEX] [--json] [--threads N] [--out DIR] [--list]\n"
          "  --quick         smaller sizes and fewer repetitions\n"
          "  --filter REGEX  only cases whose \"group/case/variant\" matches (POSIX extended)\n"
          "  --json          JSON on stdout (the table goes to stderr)\n"
          "  --threads N     largest thread count measured (default 2)\n"
          "  --out DIR       folder of the CSV (default bench/results)\n"
          "  --list          list the benchmark families\n", f);
}

static void parse_args(bench_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "quick", no_argument, NULL, 'q' },      { "filter", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },       { "threads", required_argument, NULL, 't' },
        { "out", required_argument, NULL, 'o' },  { "list", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
    };
    ctx->max_threads = 2;
    ctx->out_dir = "bench/results";
    for (int c; (c = getopt_long(argc, argv, "qf:jt:o:lh", opts, NULL)) != -1;) {
        switch (c) {
        case 'q': ctx->quick = true; break;
        case 'j': ctx->json = true; break;
        case 'o': ctx->out_dir = optarg; break;
        case 't':
            ctx->max_threads = atoi(optarg);
            if (ctx->max_threads < 1 || ctx->max_threads > 1024) {
                fprintf(stderr, "mvq_bench: --threads %s: expected 1..1024\n", optarg);
                exit(1);
            }
            break;
        case 'f': {
            int rc = regcomp(&ctx->filter, optarg, REG_EXTENDED | REG_NOSUB);
            if (rc != 0) {
                char msg[128];
                regerror(rc, &ctx->filter, msg, sizeof msg);
                fprintf(stderr, "mvq_bench: --filter %s: %s\n", optarg, msg);
                exit(1);
            }
            ctx->have_filter = true;
            break;
        }
        case 'l':
            for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
                printf("%-10s %s\n", families[i].name, families[i].what);
            exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(1);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mvq_bench: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        exit(1);
    }
    size_t len = 0;
    for (int i = 0; i < argc && len < sizeof ctx->command - 1; i++)
        len += (size_t)snprintf(ctx->command + len, sizeof ctx->command - len, "%s%s", i ? " " : "",
                                argv[i]);
}

int main(int argc, char **argv)
{
    static bench_ctx ctx;
    parse_args(&ctx, argc, argv);
    ctx.table = ctx.json ? stderr : stdout;

    mvq_error err;
    if (mvq_isa_init(&err) != MVQ_OK) {
        fprintf(stderr, "mvq_bench: %s\n", err.msg);
        return 1;
    }
    describe_machine(&ctx);
    fprintf(ctx.table, "# mvq_bench %s: %s\n# machine: %s\n# isa: %s\n# oneDNN: %s\n# %s%s\n",
            mvq_version(), ctx.command, ctx.machine, ctx.isa_line, ctx.onednn, ctx.started,
            ctx.quick ? " (quick)" : "");
    fprintf(ctx.table, "# medians; \"vs ref\"/\"vs alt\" are speedups (>1: faster) against the named "
                       "path in this run\n# single-thread figures: the thread's CPU time (cycles: "
                       "CPU time x time-stamp rate); multithreaded: wall time\n");
    print_table_head(&ctx);

    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        families[i].run(&ctx);

    if (ctx.n_starved > 0)
        bench_note(&ctx, "%d single-thread cases got less than 80%% of a core (other load): their "
                   "figures use the thread's CPU time; multithreaded figures (wall time) are "
                   "unreliable in this run", ctx.n_starved);
    if (ctx.json)
        write_json(&ctx, stdout);

    char path[1024];
    time_t t = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
    snprintf(path, sizeof path, "%s/bench-%s%s.csv", ctx.out_dir, stamp, ctx.quick ? "-quick" : "");
    if ((mkdir(ctx.out_dir, 0777) != 0 && errno != EEXIST) || write_csv(&ctx, path) != 0) {
        fprintf(stderr, "mvq_bench: cannot write %s: %s\n", path, strerror(errno));
        return 2;
    }
    fprintf(ctx.table, "# CSV: %s\n", path);
    return 0;
}
