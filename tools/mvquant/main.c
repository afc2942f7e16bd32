#include "config.h"
#include "tools/mvquant/commands.h"

#include <stdio.h>
#include <string.h>
#include <mvquant.h>

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "perplexity") == 0)
        return mvq_cmd_perplexity(argc - 1, argv + 1);
    printf("mvquant %s\n", mvq_version());
    return 0;
}
