/* The subcommands of the mvquant CLI: each returns the exit code
 * (0 ok, 1 usage, 2 bad input or I/O). */
#ifndef MVQ_TOOLS_COMMANDS_H
#define MVQ_TOOLS_COMMANDS_H

int mvq_cmd_perplexity(int argc, char **argv);

#endif
