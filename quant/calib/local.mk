# Calibration: the driver, statistics, their cache, imatrix import, the text
# the model writes itself.
libmvq_core_la_SOURCES += \
	quant/calib/calib.c \
	quant/calib/calib_access.c \
	quant/calib/calib_cache.c \
	quant/calib/calib_file.c \
	quant/calib/calib_internal.h \
	quant/calib/calib_self.c \
	quant/calib/calib_text.c \
	quant/calib/imatrix.c
