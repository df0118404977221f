#include <cstdio>

int main(int argc, char** argv) {
  std::fprintf(stderr, "winnow: not yet\n");
  return 2;
}
