/* mvquant massive: the SVG figure of the library's analysis. */
#ifndef MVQ_MASSIVE_CLI_H
#define MVQ_MASSIVE_CLI_H

#include <mvquant/quantize.h>

/* The paper's figure: per layer, heatmaps of M for Q, K and V (heads x
 * head dimension) with colour scales and labels, titled title;
 * shared_scale: one colour scale per column (Q, K, V) across the layers
 * drawn, else one per panel.  Written as mvq_write_file writes. */
mvq_status massive_write_svg(const char *path, const mvq_massive_analysis *a, const char *title, bool shared_scale,
                             mvq_error *err);

#endif
