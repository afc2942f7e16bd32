# The mvquant CLI: main.c (global options, the subcommand table), shared
# helpers, and one file per subcommand.
bin_PROGRAMS += tools/mvquant/mvquant
tools_mvquant_mvquant_SOURCES = \
	tools/mvquant/cmd_quantize.c \
	tools/mvquant/quantize_llama.h \
	tools/mvquant/quantize_llama.c \
	tools/mvquant/quantize_budget.h \
	tools/mvquant/quantize_report.c \
	tools/mvquant/quantize_report.h \
	tools/mvquant/quantize_usage.c \
	tools/mvquant/quantize_usage.h \
	tools/mvquant/quantize_budget.c \
	tools/mvquant/main.c \
	tools/mvquant/cli.h \
	tools/mvquant/cli.c \
	tools/mvquant/cli_json.c \
	tools/mvquant/cmd_inspect.c \
	tools/mvquant/cmd_verify.c \
	tools/mvquant/cmd_copy.c \
	tools/mvquant/cmd_perplexity.c \
	tools/mvquant/ppl_kv.c \
	tools/mvquant/ppl_kv.h \
	tools/mvquant/ppl_act.c \
	tools/mvquant/ppl_act.h \
	tools/mvquant/cmd_disrupt.c \
	tools/mvquant/cmd_synth.c \
	tools/mvquant/cmd_massive.c \
	tools/mvquant/massive_cli.h \
	tools/mvquant/massive_svg.c \
	tools/mvquant/cmd_eval.c \
	tools/mvquant/eval_cli.h \
	tools/mvquant/eval_svg.c
tools_mvquant_mvquant_LDADD = libmvquant.la

# The manual page, made from the help texts of the program just built (so
# it never disagrees with them); not where the build cannot run the program.
if CAN_RUN_HOST_PROGRAMS
nodist_man1_MANS = tools/mvquant/mvquant.1
tools/mvquant/mvquant.1: tools/mvquant/mvquant$(EXEEXT) $(top_srcdir)/tools/mvquant/gen-man.sh
	$(AM_V_GEN)$(SHELL) $(top_srcdir)/tools/mvquant/gen-man.sh \
	  '$(LIBTOOL) --mode=execute $(EMULATOR) tools/mvquant/mvquant$(EXEEXT)' '$(PACKAGE_VERSION)' >$@.tmp && \
	  mv $@.tmp $@
CLEANFILES += tools/mvquant/mvquant.1 tools/mvquant/mvquant.1.tmp
endif
EXTRA_DIST += tools/mvquant/gen-man.sh
