/* The massive-values figure as SVG: per layer a row of three heatmaps of
 * M (Q, K, V; heads down, head dimensions across), each with its own
 * colour scale, massive dimensions outlined. */
#include "config.h"
#include "tools/mvquant/massive_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Layout, in SVG user units. */
enum { MARGIN = 50, TITLE_H = 40, PANEL_TOP = 28, AXIS_H = 40, BAR_GAP = 8, BAR_W = 12, BAR_LABEL_W = 60,
       PANEL_GAP = 30 };

typedef struct layout {
    double cw, ch;   /* cell size */
    double pw, ph;   /* heatmap size */
    double panel_w;  /* heatmap + colour bar + its labels */
    double row_h;    /* one layer */
} layout;

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static layout make_layout(int n_head_max, int head_dim)
{
    layout L;
    L.cw = clampd(400.0 / head_dim, 3, 40);
    L.ch = clampd(200.0 / n_head_max, 4, 30);
    L.pw = L.cw * head_dim;
    L.ph = L.ch * n_head_max;
    L.panel_w = MARGIN + L.pw + BAR_GAP + BAR_W + BAR_LABEL_W;
    L.row_h = PANEL_TOP + L.ph + AXIS_H;
    return L;
}

/* viridis, by five stops */
static void colour(double t, char out[8])
{
    static const unsigned char stops[5][3] = {
        {0x44, 0x01, 0x54}, {0x3b, 0x52, 0x8b}, {0x21, 0x91, 0x8c}, {0x5e, 0xc9, 0x62}, {0xfd, 0xe7, 0x25}};
    t = clampd(isfinite(t) ? t : 0, 0, 1) * 4;
    int i = t >= 4 ? 3 : (int)t;
    double f = t - i;
    unsigned rgb[3];
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static void text(FILE *f, double x, double y, const char *anchor, int size, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">%s</text>\n", x, y, anchor, size, s);
}

/* Tick step so that about 8 labels fit. */
static int tick_step(int n)
{
    int step = 1;
    while (n / step > 8)
        step *= 2;
    return step;
}

/* The range of M over the panels of kind w (Q, K or V) in layers from..to. */
static void panel_range(const mvq_massive_analysis *a, int w, int64_t from, int64_t to, float *lo, float *hi)
{
    *lo = INFINITY;
    *hi = 0;
    for (int64_t l = from; l <= to; l++) {
        const mvq_massive_panel *p = mvq_massive_panel_at(a, l, w);
        for (int i = 0; i < p->n_head * p->head_dim; i++) {
            *lo = fminf(*lo, p->M[i]);
            *hi = fmaxf(*hi, p->M[i]);
        }
    }
}

static void panel(FILE *f, const layout *L, double x0, double y0, const mvq_massive_panel *p, const char *title,
                  float lo, float hi)
{
    const double span = hi > lo ? hi - lo : 1;
    const double hx = x0 + MARGIN, hy = y0 + PANEL_TOP;
    text(f, hx + L->pw / 2, y0 + 16, "middle", 13, title);
    char c[8];
    for (int h = 0; h < p->n_head; h++)
        for (int d = 0; d < p->head_dim; d++) {
            colour((p->M[h * p->head_dim + d] - lo) / span, c);
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", hx + d * L->cw,
                    hy + h * L->ch, L->cw, L->ch, c);
        }
    for (int h = 0; h < p->n_head; h++) /* outlines over the cells */
        for (int d = 0; d < p->head_dim; d++)
            if (p->mask[h * p->head_dim + d])
                fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
                           "stroke=\"#ff2d2d\" stroke-width=\"1.5\"/>\n",
                        hx + d * L->cw, hy + h * L->ch, L->cw, L->ch);
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#333\"/>\n", hx, hy,
            L->pw, L->ch * p->n_head);
    char label[32];
    for (int d = 0, s = tick_step(p->head_dim); d < p->head_dim; d += s) {
        snprintf(label, sizeof label, "%d", d);
        text(f, hx + (d + 0.5) * L->cw, hy + L->ch * p->n_head + 13, "middle", 10, label);
    }
    text(f, hx + L->pw / 2, hy + L->ch * p->n_head + 28, "middle", 11, "head dimension");
    for (int h = 0, s = tick_step(p->n_head); h < p->n_head; h += s) {
        snprintf(label, sizeof label, "%d", h);
        text(f, hx - 5, hy + (h + 0.5) * L->ch + 4, "end", 10, label);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" "
               "transform=\"rotate(-90 %.1f %.1f)\">head</text>\n",
            hx - 30, hy + L->ch * p->n_head / 2, hx - 30, hy + L->ch * p->n_head / 2);
    /* colour bar: 32 steps, max on top */
    const double bx = hx + L->pw + BAR_GAP, bh = L->ch * p->n_head;
    for (int i = 0; i < 32; i++) {
        colour(1.0 - (i + 0.5) / 32, c);
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" fill=\"%s\"/>\n", bx, hy + i * bh / 32,
                BAR_W, bh / 32 + 0.3, c);
    }
    const float marks[3] = {hi, (hi + lo) / 2, lo};
    for (int i = 0; i < 3; i++) {
        snprintf(label, sizeof label, "%.3g", marks[i]);
        text(f, bx + BAR_W + 3, hy + i * bh / 2 + 4, "start", 10, label);
    }
}

static void figure(FILE *f, const mvq_massive_analysis *a, const char *title, bool shared_scale)
{
    int n_head_max = 0;
    for (int w = 0; w < 3; w++) {
        const int n = mvq_massive_panel_at(a, a->layer_from, w)->n_head;
        n_head_max = n > n_head_max ? n : n_head_max;
    }
    const layout L = make_layout(n_head_max, (int)a->hp.head_dim);
    const int64_t rows = a->layer_to - a->layer_from + 1;
    const double width = 3 * L.panel_w + 2 * PANEL_GAP + MARGIN / 2.0, height = TITLE_H + rows * L.row_h + 10;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"sans-serif\" shape-rendering=\"crispEdges\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    fprintf(f, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", width / 2);
    for (const char *s = title; *s; s++) /* the model's name, escaped for XML */
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        default: fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
        }
    fprintf(f, ": M[h,d] = ||x[:,h,d]||2 over the calibration tokens (massive dims outlined; %s)</text>\n",
            shared_scale ? "one colour scale per column across layers" : "a colour scale per panel");
    static const char *const names[3] = {"Q (after RoPE)", "K (after RoPE)", "V"};
    char t[64];
    for (int64_t l = a->layer_from; l <= a->layer_to; l++)
        for (int w = 0; w < 3; w++) {
            snprintf(t, sizeof t, "layer %lld: %s", (long long)l, names[w]);
            float lo, hi;
            panel_range(a, w, shared_scale ? a->layer_from : l, shared_scale ? a->layer_to : l, &lo, &hi);
            panel(f, &L, w * (L.panel_w + PANEL_GAP), TITLE_H + (l - a->layer_from) * L.row_h,
                  mvq_massive_panel_at(a, l, w), t, lo, hi);
        }
    fputs("</svg>\n", f);
}

mvq_status massive_write_svg(const char *path, const mvq_massive_analysis *a, const char *title, bool shared_scale,
                             mvq_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
    figure(f, a, title, shared_scale);
    const bool ok = !ferror(f);
    fclose(f);
    mvq_status st = ok ? mvq_write_file(path, buf, size, NULL, err)
                       : mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
    free(buf);
    return st;
}
