// Replays fuzz inputs without libFuzzer: every file named (or inside a
// directory named) on the command line goes once through the target's
// LLVMFuzzerTestOneInput. CTest runs it over the seed corpora in the normal
// and sanitizer builds (tests/fuzz/CMakeLists.txt), so a regression on a
// known input fails `ctest` in seconds, fuzzing or not.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void files_in(const std::string& path, std::vector<std::string>* out) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return;
  if (!S_ISDIR(st.st_mode)) {
    out->push_back(path);
    return;
  }
  DIR* d = opendir(path.c_str());
  if (!d) return;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') files_in(path + "/" + e->d_name, out);
  closedir(d);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) files_in(argv[i], &files);
  if (files.empty()) {
    std::fprintf(stderr, "no inputs found\n");
    return 2;  // an empty corpus would make this test pass for nothing
  }
  for (const std::string& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::printf("%zu inputs replayed\n", files.size());
  return 0;
}
