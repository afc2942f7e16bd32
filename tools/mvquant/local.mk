bin_PROGRAMS += tools/mvquant/mvquant
tools_mvquant_mvquant_SOURCES = tools/mvquant/main.c tools/mvquant/commands.h tools/mvquant/cmd_perplexity.c
tools_mvquant_mvquant_LDADD = libmvquant.la
