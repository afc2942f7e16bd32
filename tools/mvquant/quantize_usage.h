/* The main job's --help. */
#ifndef MVQ_QUANTIZE_USAGE_H
#define MVQ_QUANTIZE_USAGE_H

/* The preset without --type. */
#define QUANTIZE_DEFAULT_TYPE "q4_k_m"

/* Prints the help on stdout. */
void quantize_usage(void);

#endif
