// The task group the scx-stall scheduler starves: CPU-bound like lab_spin, under its own comm
// ("lab_stall") so the scheduler can pick it out.
#include <stdlib.h>

static volatile unsigned long sink;

int main(void) {
  for (;;) sink++;
  return 0;
}
