#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace glint {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, ErrorFormatsMessage) {
  Status s = Error(StatusCode::kDataLoss, "need {} bytes, {} left", 8, 3);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "need 8 bytes, 3 left");
  EXPECT_EQ(s.ToString(), "DataLoss: need 8 bytes, 3 left");
}

TEST(StatusTest, WithContextPrependsOnlyToFailures) {
  Status s = Error(StatusCode::kNotFound, "no key");
  Status c = s.WithContext("loading m.gguf");
  EXPECT_EQ(c.code(), StatusCode::kNotFound);
  EXPECT_EQ(c.message(), "loading m.gguf: no key");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
  EXPECT_EQ(Status::Ok().WithContext("ignored").message(), "");
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kUnavailable); ++c) {
    EXPECT_STRNE(StatusCodeName(static_cast<StatusCode>(c)), "Unknown") << c;
  }
  EXPECT_STREQ(StatusCodeName(StatusCode::kInvalidArgument), "InvalidArgument");
  EXPECT_STREQ(StatusCodeName(static_cast<StatusCode>(999)), "Unknown");
}

TEST(ResultTest, HoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  *r = 7;
  EXPECT_EQ(r.value(), 7);
}

TEST(ResultTest, HoldsError) {
  Result<std::string> r = Error(StatusCode::kOutOfRange, "offset {} past {}", 10, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(r.status().message(), "offset 10 past 5");
}

TEST(ResultTest, ArrowAndMoveOnlyValues) {
  Result<std::string> r = std::string("hello");
  EXPECT_EQ(r->size(), 5u);
  Result<std::unique_ptr<int>> p = std::make_unique<int>(3);
  ASSERT_TRUE(p.ok());
  std::unique_ptr<int> taken = std::move(p).value();
  EXPECT_EQ(*taken, 3);
}

TEST(ResultDeathTest, OkStatusWithoutValueAborts) {
  EXPECT_DEATH({ Result<int> r = Status::Ok(); (void)r; }, "");
}

Result<int> ParsePositive(int x) {
  if (x <= 0) return Error(StatusCode::kInvalidArgument, "{} is not positive", x);
  return x;
}

Status Check(int x) {
  if (x == 13) return Error(StatusCode::kInvalidArgument, "unlucky");
  return Status::Ok();
}

Result<int> Sum(int a, int b) {
  ASSIGN_OR_RETURN(int x, ParsePositive(a));
  ASSIGN_OR_RETURN(int y, ParsePositive(b));  // two on one scope: distinct temporaries
  RETURN_IF_ERROR(Check(x + y));
  return x + y;
}

Result<std::unique_ptr<int>> MakeBox(int v) {
  if (v < 0) return Error(StatusCode::kInvalidArgument, "negative");
  return std::make_unique<int>(v);
}

Result<int> Unbox(int v) {
  std::unique_ptr<int> box;
  ASSIGN_OR_RETURN(box, MakeBox(v));  // assign to an existing variable, move-only
  return *box;
}

TEST(MacrosTest, AssignOrReturnAndReturnIfError) {
  EXPECT_EQ(Sum(2, 3).value(), 5);
  Result<int> e = Sum(2, -1);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "-1 is not positive");
  EXPECT_EQ(Sum(-4, 1).status().message(), "-4 is not positive");
  EXPECT_EQ(Sum(6, 7).status().message(), "unlucky");
  EXPECT_EQ(Unbox(9).value(), 9);
  EXPECT_FALSE(Unbox(-1).ok());
}

}  // namespace
}  // namespace glint
