#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "common/allocator.h"

int main(int argc, char** argv) {
  guanxi::MapLargeAllocations();
  std::ios::sync_with_stdio(false);
  guanxi::app::Io io{std::cout, std::cerr};
  const int code = guanxi::app::RootCommand().Main(argc, argv, io);
  std::cout.flush();
  return code;
}
