// Sleeping guest workload: wakes every argv[1] milliseconds (default 20), does a little work and
// sleeps again, so the scheduler sees frequent enqueue/dequeue and tasks in S state.
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

int main(int argc, char** argv) {
  long ms = argc > 1 ? atol(argv[1]) : 20;
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  for (;;) {
    for (int i = 0; i < 10000; i++) sink++;
    nanosleep(&ts, NULL);
  }
  return 0;
}
