libmvq_core_la_SOURCES += kernels/kquants_init.c
