#include "bench/harness/grid_file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace adanns::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(GridFileTest, ParsesListsRangesAndComments) {
  const std::string text =
      "# sweep\n"
      "faiss-ivf build nlist=256,1024   # two builds\n"
      "faiss-ivf search nprobe=1..3\n"
      "\n"
      "funnel\tsearch search_dims=16,32 rerank_candidates=100\r\n"
      "flat search\n";
  absl::StatusOr<GridFile> grid = ParseGridText(text, "grid.txt");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_THAT(grid->at("faiss-ivf").builds,
              ElementsAre(Params{{"nlist", 256}}, Params{{"nlist", 1024}}));
  EXPECT_THAT(grid->at("faiss-ivf").searches,
              ElementsAre(Params{{"nprobe", 1}}, Params{{"nprobe", 2}}, Params{{"nprobe", 3}}));
  EXPECT_THAT(grid->at("funnel").searches,
              ElementsAre(Params{{"search_dims", 16}, {"rerank_candidates", 100}},
                          Params{{"search_dims", 32}, {"rerank_candidates", 100}}));
  EXPECT_TRUE(grid->at("funnel").builds.empty());
  EXPECT_THAT(grid->at("flat").searches, ElementsAre(Params{}));
}

TEST(GridFileTest, ErrorsNameTheFileAndLine) {
  const struct {
    const char* text;
    const char* message;
  } cases[] = {
      {"flat\n", "g:1: expected '<method> build|search"},
      {"\nflat serch search_dims=8\n", "g:2: unknown kind 'serch'"},
      {"flat search search_dims\n", "g:1: 'search_dims' is not key=value"},
      {"flat search =8\n", "g:1: '=8' is not key=value"},
      {"flat search search_dims=abc\n", "g:1: search_dims: 'abc' is not a number"},
      {"flat search search_dims=8,\n", "g:1: search_dims: '' is not a number"},
      {"flat search a=1 a=2\n", "g:1: key 'a' repeated"},
      {"# ok\nflat search a=5..2\n", "g:2: a: range '5..2' is empty"},
      {"flat search a=1.5..3\n", "g:1: a: '1.5..3' is not an integer range"},
      {"flat search a=1..1000 b=1..1000\n", "g:1: the line expands to more than"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<GridFile> grid = ParseGridText(c.text, "g");
    ASSERT_FALSE(grid.ok()) << c.text;
    EXPECT_EQ(grid.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(grid.status().message()), HasSubstr(c.message)) << c.text;
  }
  EXPECT_EQ(ReadGridFile("/nonexistent/grid.txt").status().code(), absl::StatusCode::kNotFound);
}

TEST(GridFileTest, OverrideReplacesOnlyTheHalvesItGives) {
  Grid defaults;
  defaults.builds = {Params{{"nlist", 64}}};
  defaults.searches = {Params{{"nprobe", 1}}, Params{{"nprobe", 2}}};
  GridOverride searches_only;
  searches_only.searches = {Params{{"nprobe", 8}}};
  const Grid merged = ApplyGridOverride(defaults, &searches_only);
  EXPECT_EQ(merged.builds, defaults.builds);
  EXPECT_THAT(merged.searches, ElementsAre(Params{{"nprobe", 8}}));
  EXPECT_EQ(ApplyGridOverride(defaults, nullptr).searches, defaults.searches);
}

}  // namespace
}  // namespace adanns::bench
