// The `adanns` CLI and the Python example against a real server process: every subcommand, its
// output and exit status, and errors reported as `error: <CODE>: <message>`.
#include <fstream>
#include <string>

#include "client/readers/npy_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace adanns::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliTest : public ::testing::Test {
 protected:
  // Runs the CLI; returns its exit code, stdout+stderr in *out.
  int Cli(const std::string& args, std::string* out) {
    return RunCommand(CliBinary() + " --server " + server_.target() + " " + args + " 2>&1", out);
  }

  TempDir dir_;
  ServerProcess server_{dir_.path() + "/data"};
};

TEST_F(CliTest, CollectionLifecycleIngestSearchGetDelete) {
  std::string out;
  ASSERT_EQ(Cli("collection create demo --dim 4 --metric cosine --nesting-dims 2,4", &out), 0)
      << out;
  ASSERT_EQ(Cli("collection list", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("demo"));

  // 100 rows: row i = (i, 1, 0, 0); ids = row + 1000.
  std::vector<float> rows;
  for (int i = 0; i < 100; ++i) rows.insert(rows.end(), {float(i), 1, 0, 0});
  const std::string npy = dir_.path() + "/rows.npy";
  ASSERT_TRUE(readers::WriteNpy(npy, 100, 4, rows.data()).ok());
  ASSERT_EQ(Cli("ingest --collection demo --id-offset 1000 " + npy, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("100"));

  ASSERT_EQ(Cli("collection describe demo", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("100"));

  // Cosine: the direction of row 7 (7, 1) is matched best by id 1007.
  ASSERT_EQ(Cli("search --collection demo --query 14,2,0,0 --k 2 --json", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1007"));
  EXPECT_THAT(out, HasSubstr("\"plan\""));
  // A prefix query with a prefix plan.
  ASSERT_EQ(Cli("search --collection demo --query 7,1 --search-dims 2 --k 1 --json", &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("1007"));

  ASSERT_EQ(Cli("get --collection demo 1003 --json", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1003"));
  ASSERT_EQ(Cli("delete --collection demo 1003 1004", &out), 0) << out;
  EXPECT_NE(Cli("get --collection demo 1003", &out), 0);
  EXPECT_THAT(out, HasSubstr("NOT_FOUND"));

  ASSERT_EQ(Cli("collection drop demo", &out), 0) << out;
  EXPECT_NE(Cli("collection describe demo", &out), 0);
  EXPECT_THAT(out, HasSubstr("error: NOT_FOUND"));
}

TEST_F(CliTest, ErrorsNameTheCodeAndExitNonZero) {
  std::string out;
  EXPECT_NE(Cli("collection create bad --dim 0 --metric l2", &out), 0);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  ASSERT_EQ(Cli("collection create c --dim 3 --metric l2", &out), 0) << out;
  EXPECT_NE(Cli("collection create c --dim 3 --metric l2", &out), 0);
  EXPECT_THAT(out, HasSubstr("ALREADY_EXISTS"));
  EXPECT_NE(Cli("search --collection c --query 1,2 --k 1", &out), 0);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_NE(Cli("ingest --collection c " + dir_.path() + "/missing.npy", &out), 0);
  EXPECT_THAT(out, HasSubstr("missing.npy"));
}

// `collection create --replicas`: documented in the help, parsed as a count (anything else is
// refused by the CLI before any call), and 1 is what a standalone server holds anyway. (Copies on
// a cluster, and describe's replica columns: tests/cluster/cluster_local_test.sh.)
TEST_F(CliTest, CreateTakesReplicas) {
  std::string out;
  ASSERT_EQ(Cli("collection create --help", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("--replicas"));
  EXPECT_THAT(out, HasSubstr("--default_replicas"));
  for (const std::string bad : {"two", "-1", "1.5", ""}) {
    EXPECT_NE(Cli("collection create r --dim 4 --metric l2 --replicas " + bad, &out), 0) << bad;
    EXPECT_THAT(out, HasSubstr("--replicas")) << bad;
  }
  EXPECT_NE(Cli("collection describe r", &out), 0) << "a refused flag created the collection";
  ASSERT_EQ(Cli("collection create r --dim 4 --metric l2 --replicas 1", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("created collection r"));
  EXPECT_THAT(out, Not(HasSubstr("REPLICAS")));  // a standalone collection has no shard table
}

TEST_F(CliTest, PythonExampleRuns) {
  std::string out;
  const int code = RunCommand("/usr/bin/python3 " ADANNS_SOURCE_DIR
                              "/client/python/adanns_example.py --server " +
                                  server_.target() + " 2>&1",
                              &out);
  EXPECT_EQ(code, 0) << out;
}

// A server with API keys: the CLI and the Python example work with the admin key, the CLI fails
// with UNAUTHENTICATED without one and with PERMISSION_DENIED on a write with a read key.
TEST(CliKeysTest, KeysTravelFromTheCliAndThePythonExample) {
  TempDir dir;
  std::ofstream(dir.path() + "/keys") << "cli-admin-0123456789 admin\ncli-reader-0123456789 read\n";
  ServerProcess server(dir.path() + "/data", {"--api_keys_file=" + dir.path() + "/keys"});
  const std::string cli = CliBinary() + " --server " + server.target() + " ";
  std::string out;
  EXPECT_EQ(RunCommand(cli + "collection list 2>&1", &out), 1);
  EXPECT_THAT(out, HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(RunCommand(cli + "--api-key cli-reader-0123456789 collection create k --dim 4 "
                             "--metric l2 2>&1",
                       &out),
            1);
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(RunCommand("ADANNS_API_KEY=cli-admin-0123456789 " + cli +
                           "collection create k --dim 4 --metric l2 2>&1",
                       &out),
            0)
      << out;
  EXPECT_EQ(RunCommand(cli + "--api-key cli-reader-0123456789 collection list 2>&1", &out), 0);
  EXPECT_THAT(out, HasSubstr("k"));
  const int code = RunCommand("/usr/bin/python3 " ADANNS_SOURCE_DIR
                              "/client/python/adanns_example.py --server " +
                                  server.target() + " --api-key cli-admin-0123456789 2>&1",
                              &out);
  EXPECT_EQ(code, 0) << out;
}

}  // namespace
}  // namespace adanns::testing
