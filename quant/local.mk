# The top of quant/: the plan, the job pipeline, massive-value analysis and
# protection, evaluation (perplexity, KL divergence).  Its rooms: gguf/, model/,
# calib/, methods/, each with its own local.mk.
libmvq_core_la_SOURCES += \
	quant/budget_measure.c \
	quant/budget_plan.c \
	quant/budget_solve.c \
	quant/disrupt.c \
	quant/eval.c \
	quant/eval_internal.h \
	quant/eval_stats.c \
	quant/job.c \
	quant/job_internal.h \
	quant/job_layerwise.c \
	quant/job_meta.c \
	quant/job_spill.c \
	quant/job_tensor.c \
	quant/massive.c \
	quant/massive_analysis.c \
	quant/plan.c \
	quant/plan_build.c \
	quant/plan_internal.h \
	quant/plan_transforms.c \
	quant/protect.c \
	quant/quant_internal.h

# The contextual and parametric probes (mvquant eval).
libmvq_core_la_SOURCES += quant/probes.c quant/probes_score.c
