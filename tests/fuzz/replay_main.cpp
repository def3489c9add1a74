// The driver for a fuzz target built without libFuzzer (the normal g++
// build): runs every file of the given corpus directories (seeds, and each
// crash a fuzzing run found, kept as a regression), then a fixed number of
// deterministic mutations of them. It keeps the targets compiling and every
// past crash fixed in every CTest run; finding new crashes is libFuzzer's
// job (scripts/fuzz.sh).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::string> readCorpus(const std::vector<std::string>& directories) {
  std::vector<std::filesystem::path> files;
  for (const std::string& directory : directories) {
    if (!std::filesystem::is_directory(directory)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());  // the same order, so the same mutations, on every run
  std::vector<std::string> inputs;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 20000;
  std::vector<std::string> directories;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--mutations=", 0) == 0) {
      mutations = std::strtol(arg.c_str() + 12, nullptr, 10);
    } else {
      directories.push_back(arg);
    }
  }
  std::vector<std::string> corpus = readCorpus(directories);
  if (corpus.empty()) {
    std::fprintf(stderr, "no corpus files in the given directories\n");
    return 2;
  }
  for (const std::string& input : corpus) run(input);
  std::mt19937 random(20261202);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random); };
  for (long i = 0; i < mutations; ++i) {
    std::string input = corpus[pick(corpus.size())];
    const int edits = 1 + static_cast<int>(pick(8));
    for (int e = 0; e < edits; ++e) {
      switch (pick(5)) {
        case 0:  // flip a bit
          if (!input.empty()) input[pick(input.size())] ^= static_cast<char>(1u << pick(8));
          break;
        case 1:  // an interesting byte
          if (!input.empty()) {
            static const char kBytes[] = {'\0', '\xff', '\x7f', '\x80', '\xc1', '\xdc', '\xde', ':', '\n', '"'};
            input[pick(input.size())] = kBytes[pick(sizeof kBytes)];
          }
          break;
        case 2:  // cut
          if (!input.empty()) input.resize(pick(input.size() + 1));
          break;
        case 3:  // repeat a slice
          if (!input.empty() && input.size() < 65536) {
            const std::size_t from = pick(input.size());
            const std::size_t length = 1 + pick(std::min<std::size_t>(64, input.size() - from));
            input.insert(pick(input.size() + 1), input.substr(from, length));
          }
          break;
        default: {  // splice with another input
          const std::string& other = corpus[pick(corpus.size())];
          if (!other.empty()) input = input.substr(0, pick(input.size() + 1)) + other.substr(pick(other.size()));
        }
      }
    }
    run(input);
  }
  std::printf("%zu corpus inputs and %ld mutations ran without a crash\n", corpus.size(), mutations);
  return 0;
}
