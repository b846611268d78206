// CPU-bound guest workload: N threads (argv[1], default 1) spinning forever, so runqueues and
// DSQs are never empty. Its comm, "lab_spin", is what schedulers and tests recognize it by.
#include <pthread.h>
#include <stdlib.h>

static volatile unsigned long sink;

static void* spin(void* arg) {
  (void)arg;
  for (;;) sink++;
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  for (int i = 1; i < threads; i++) {
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
  }
  spin(NULL);
  return 0;
}
