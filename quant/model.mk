# Model view, forward pass (+ double reference), observation taps, evaluation.
libmvq_core_la_SOURCES += \
	quant/model.c \
	quant/model_roles.c \
	quant/model_roles.h \
	quant/model_taps.c \
	quant/model_internal.h \
	quant/forward.c \
	quant/layer.c \
	quant/layer_internal.h \
	quant/layerwise.c \
	quant/forward_ops.c \
	quant/forward_ref.c
libmvq_core_la_SOURCES += \
	quant/eval.c \
	quant/eval_stats.c \
	quant/eval_internal.h
