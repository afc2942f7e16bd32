# The model view (hyperparameters, tensor roles), the one layer implementation
# (batched pass and token-by-token decoder), observers, the double-precision
# reference, the tokenizer and synthetic models.
libmvq_core_la_SOURCES += \
	quant/model/act_int8.c \
	quant/model/act_int8_internal.h \
	quant/model/decode.c \
	quant/model/decode_internal.h \
	quant/model/forward.c \
	quant/model/forward_ops.c \
	quant/model/forward_ref.c \
	quant/model/kv_quant.c \
	quant/model/kv_channel.c \
	quant/model/kv_channel.h \
	quant/model/layer.c \
	quant/model/layer_internal.h \
	quant/model/layer_runner.c \
	quant/model/layerwise.c \
	quant/model/model.c \
	quant/model/model_internal.h \
	quant/model/model_roles.c \
	quant/model/model_roles.h \
	quant/model/model_taps.c \
	quant/model/synth.c \
	quant/model/synth_internal.h \
	quant/model/synth_tensors.c \
	quant/model/synth_vocab.c \
	quant/model/tokenizer.c \
	quant/model/tokenizer_internal.h \
	quant/model/tokenizer_load.c \
	quant/model/tokenizer_spm.c \
	quant/model/tokenizer_vocab.c
mvquantinclude_HEADERS += include/mvquant/synth.h include/mvquant/kvcache.h
