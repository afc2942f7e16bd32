#include <stdio.h>
#include <mvquant.h>
int main(void) { printf("mvquant %s\n", mvq_version()); return 0; }
