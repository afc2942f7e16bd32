libmvq_core_la_SOURCES += common/error.c
