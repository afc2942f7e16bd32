# The quantization plan, calibration, massive-value analysis and the job.
libmvq_core_la_SOURCES += \
	quant/massive.c \
	quant/calib.c \
	quant/calib_file.c \
	quant/plan.c \
	quant/protect.c \
	quant/tensor_quant.c \
	quant/job.c
EXTRA_DIST += quant/quant_internal.h
libmvq_core_la_SOURCES += \
	quant/decode.c \
	quant/calib_self.c \
	quant/calib_cache.c \
	quant/imatrix.c \
	quant/calib_text.c
EXTRA_DIST += quant/decode_internal.h quant/calib_internal.h
