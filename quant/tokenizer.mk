# Tokenizer (tokenizer.ggml.* metadata) and synthetic models.
libmvq_core_la_SOURCES += \
	quant/tokenizer_internal.h \
	quant/tokenizer_load.c \
	quant/tokenizer_vocab.c \
	quant/tokenizer_spm.c \
	quant/tokenizer.c
libmvq_core_la_SOURCES += \
	quant/synth_internal.h \
	quant/synth.c \
	quant/synth_vocab.c \
	quant/synth_tensors.c
mvquantinclude_HEADERS += include/mvquant/synth.h
