# The quantization plan, calibration, massive-value analysis and the job.
libmvq_core_la_SOURCES += \
	quant/plan.c \
	quant/massive.c
