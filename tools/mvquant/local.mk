# The mvquant CLI: main.c (global options, the subcommand table), shared
# helpers, and one file per subcommand.
bin_PROGRAMS += tools/mvquant/mvquant
tools_mvquant_mvquant_SOURCES = \
	tools/mvquant/cmd_quantize.c \
	tools/mvquant/quantize_llama.h \
	tools/mvquant/quantize_llama.c \
	tools/mvquant/main.c \
	tools/mvquant/cli.h \
	tools/mvquant/cli.c \
	tools/mvquant/cli_json.c \
	tools/mvquant/cmd_inspect.c \
	tools/mvquant/cmd_verify.c \
	tools/mvquant/cmd_copy.c \
	tools/mvquant/cmd_perplexity.c
tools_mvquant_mvquant_LDADD = libmvquant.la
