# GGUF: reader (mmap, every size checked), streaming writer (temporary file,
# fsync, rename), llama.cpp's loader rules, tensor hashes, output checks.
libmvq_core_la_SOURCES += \
	quant/gguf/gguf_copy.c \
	quant/gguf/gguf_file.c \
	quant/gguf/gguf_hash.c \
	quant/gguf/gguf_internal.h \
	quant/gguf/gguf_outcheck.c \
	quant/gguf/gguf_read.c \
	quant/gguf/gguf_rules.c \
	quant/gguf/gguf_split.c \
	quant/gguf/gguf_tmpfile.c \
	quant/gguf/gguf_tmpfile.h \
	quant/gguf/gguf_util.c \
	quant/gguf/gguf_write.c
