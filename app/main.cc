#include <iostream>

#include "app/cli.h"
#include "app/commands.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  guanxi::app::Io io{std::cout, std::cerr};
  const int code = guanxi::app::RootCommand().Main(argc, argv, io);
  std::cout.flush();
  return code;
}
