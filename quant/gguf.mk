# GGUF reader, streaming writer, loader rules and tensor hashes.
libmvq_core_la_SOURCES += \
	quant/gguf_internal.h \
	quant/gguf_util.c \
	quant/gguf_read.c \
	quant/gguf_tmpfile.h \
	quant/gguf_tmpfile.c \
	quant/gguf_outcheck.c \
	quant/gguf_write.c \
	quant/gguf_rules.c \
	quant/gguf_hash.c \
	quant/gguf_copy.c
