/* The eval figure as SVG, like the paper's Figure 5: per task a group of
 * bars, one per model, the score relative to the first model (100%). */
#include "config.h"
#include "tools/mvquant/eval_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Layout, in SVG user units. */
enum { LEFT = 60, TOP = 50, PLOT_H = 260, BAR_W = 14, GROUP_GAP = 24, LEGEND_ROW = 16, BOTTOM = 50 };

static const char *const palette[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3",
                                      "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"};
#define N_PALETTE (int)(sizeof palette / sizeof palette[0])

/* s with the characters XML gives meaning to escaped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static void label(FILE *f, double x, double y, const char *anchor, int size, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\">", x, y, anchor, size);
    put_escaped(f, s);
    fputs("</text>\n", f);
}

static void draw(FILE *f, const eval_table *t, const char *title)
{
    const double group_w = t->n_rows * BAR_W + GROUP_GAP;
    const double width = LEFT + t->n_cols * group_w + 20;
    const double height = TOP + PLOT_H + BOTTOM + t->n_rows * LEGEND_ROW + 10;
    double top = 1.2; /* the y axis: 0 to the largest ratio, at least 120% */
    for (int r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->n_cols; c++)
            if (isfinite(t->rows[r].rel[c]) && t->rows[r].rel[c] > top)
                top = t->rows[r].rel[c];
    top = ceil(top * 5) / 5;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            width, height, width, height);
    label(f, width / 2, 24, "middle", 15, title);
    const double y0 = TOP + PLOT_H;
    char s[64];
    for (int i = 0; i <= (int)lround(top * 5); i++) { /* grid every 20% */
        const double v = i / 5.0, y = y0 - v / top * PLOT_H;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", LEFT, y, width - 20, y,
                i == 5 ? "#888" : "#e5e5e5");
        snprintf(s, sizeof s, "%.0f%%", 100 * v);
        label(f, LEFT - 6, y + 4, "end", 10, s);
    }
    for (int c = 0; c < t->n_cols; c++) {
        const double gx = LEFT + GROUP_GAP / 2.0 + c * group_w;
        for (int r = 0; r < t->n_rows; r++) {
            const double v = t->rows[r].rel[c];
            if (!isfinite(v))
                continue;
            const double h = fmin(v, top) / top * PLOT_H;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>", gx + r * BAR_W,
                    y0 - h, BAR_W - 2, h, palette[r % N_PALETTE]);
            put_escaped(f, t->rows[r].name);
            fprintf(f, " %s: %.1f%%</title></rect>\n", t->cols[c].name, 100 * v);
        }
        label(f, gx + t->n_rows * BAR_W / 2.0, y0 + 16, "middle", 11, t->cols[c].name);
        label(f, gx + t->n_rows * BAR_W / 2.0, y0 + 30, "middle", 9,
              t->cols[c].cls == EVAL_CONTEXTUAL ? "contextual" : t->cols[c].cls == EVAL_PARAMETRIC ? "parametric"
                                                                                                   : "sanity");
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", LEFT, y0, width - 20, y0);
    for (int r = 0; r < t->n_rows; r++) {
        const double y = y0 + BOTTOM + r * LEGEND_ROW;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", LEFT, y - 9,
                palette[r % N_PALETTE]);
        label(f, LEFT + 16, y, "start", 11, t->rows[r].name);
    }
    fputs("</svg>\n", f);
}

mvq_status eval_write_svg(const char *path, const eval_table *t, const char *title, mvq_error *err)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
    draw(f, t, title);
    const bool ok = fflush(f) == 0 && !ferror(f);
    fclose(f);
    mvq_status st = ok ? mvq_write_file(path, buf, size, NULL, err)
                       : mvq_error_set(err, MVQ_ERR_NOMEM, "%s: out of memory", path);
    free(buf);
    return st;
}
