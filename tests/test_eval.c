/* Evaluation: statistics formulas, and llama.cpp's figures on the fixtures. */
#include <criterion/criterion.h>
#include <mvquant.h>
