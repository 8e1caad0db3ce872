// API key files: what parses, what is refused (naming the line), and how keys are checked.
#include "server/auth.h"

#include "gtest/gtest.h"

namespace adanns::server {
namespace {

TEST(ApiKeysTest, ParsesKeysRolesAndComments) {
  absl::StatusOr<ApiKeys> keys = ApiKeys::Parse(
      "# operators\nadmin-key-0123456789 admin\n\n  reader-key-0123456789\tread  # dashboards\n");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_TRUE(keys->Check("Bearer admin-key-0123456789", Role::kAdmin).ok());
  EXPECT_TRUE(keys->Check("Bearer admin-key-0123456789", Role::kRead).ok());
  EXPECT_TRUE(keys->Check("Bearer reader-key-0123456789", Role::kRead).ok());
  EXPECT_EQ(keys->Check("Bearer reader-key-0123456789", Role::kAdmin).code(),
            absl::StatusCode::kPermissionDenied);
  for (const char* wrong : {"", "reader-key-0123456789", "Bearer ", "Bearer reader-key-012345678",
                            "Bearer reader-key-01234567890", "bearer reader-key-0123456789"}) {
    EXPECT_EQ(keys->Check(wrong, Role::kRead).code(), absl::StatusCode::kUnauthenticated) << wrong;
  }
}

TEST(ApiKeysTest, RefusesMalformedFilesNamingTheLine) {
  const auto refused = [](const char* text) { return ApiKeys::Parse(text).status(); };
  EXPECT_NE(refused("ok-key-0123456789abc read\nshort admin\n").message().find("line 2"),
            std::string::npos);
  EXPECT_NE(refused("ok-key-0123456789abc writer\n").message().find("read or admin"),
            std::string::npos);
  EXPECT_NE(refused("ok-key-0123456789abc read extra\n").message().find("KEY ROLE"),
            std::string::npos);
  EXPECT_EQ(refused("# nothing\n").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeys::Load("/nonexistent/keys").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace adanns::server
