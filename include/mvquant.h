/* mvquant: quantize GGUF language models, protecting the massive values
 * of attention queries and keys.  One include for the whole public API. */
#ifndef MVQUANT_H
#define MVQUANT_H

#include <mvquant/common.h>
#include <mvquant/types.h>
#include <mvquant/kernels.h>
#include <mvquant/int8.h>
#include <mvquant/gguf.h>
#include <mvquant/model.h>
#include <mvquant/disrupt.h>
#include <mvquant/tokenizer.h>
#include <mvquant/synth.h>
#include <mvquant/massive.h>
#include <mvquant/calib.h>
#include <mvquant/plan.h>
#include <mvquant/quantize.h>
#include <mvquant/methods.h>
#include <mvquant/kvcache.h>
#include <mvquant/budget.h>
#include <mvquant/probes.h>

#endif
