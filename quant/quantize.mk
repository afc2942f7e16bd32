# The plan, calibration, massive-value analysis and the job (methods: quant/methods/local.mk).
libmvq_core_la_SOURCES += \
	quant/massive.c \
	quant/calib.c \
	quant/calib_file.c \
	quant/plan.c \
	quant/plan_build.c \
	quant/plan_transforms.c \
	quant/protect.c \
	quant/job.c \
	quant/job_meta.c \
	quant/job_tensor.c
EXTRA_DIST += quant/quant_internal.h quant/plan_internal.h quant/job_internal.h
libmvq_core_la_SOURCES += \
	quant/decode.c \
	quant/calib_self.c \
	quant/calib_cache.c \
	quant/imatrix.c \
	quant/calib_text.c
EXTRA_DIST += quant/decode_internal.h quant/calib_internal.h
