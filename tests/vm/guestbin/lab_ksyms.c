// lab_ksyms NAME...: prints the /proc/kallsyms line ("addr type name") of each NAME from the core
// kernel (first match, module symbols skipped). busybox grep needs ~4 s for this under TCG; this
// takes about as long as the kernel needs to generate the file.
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  FILE* f = fopen("/proc/kallsyms", "r");
  if (!f) {
    perror("/proc/kallsyms");
    return 1;
  }
  int found[argc];
  memset(found, 0, sizeof(found));
  int missing = argc - 1;
  char line[512], addr[64], type[8], name[256];
  while (missing > 0 && fgets(line, sizeof(line), f)) {
    if (strchr(line, '[')) continue;  // "[module]" suffix
    if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3) continue;
    for (int i = 1; i < argc; i++) {
      if (!found[i] && strcmp(name, argv[i]) == 0) {
        printf("%s %s %s\n", addr, type, name);
        found[i] = 1;
        missing--;
      }
    }
  }
  fclose(f);
  return missing == 0 ? 0 : 2;
}
