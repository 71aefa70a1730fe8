// The draft sources of speculative decoding, without a model: the
// prediction cursor follows the output and re-synchronises after the model
// inserts, deletes or replaces text; prompt lookup proposes what followed
// the latest earlier occurrence of the output's last n-gram; the draft
// length adapts to acceptance.
#include "engine/draft.h"

#include <gtest/gtest.h>

#include <vector>

namespace glint::engine {
namespace {

using Tokens = std::vector<TokenId>;

Tokens Range(TokenId first, TokenId last) {  // first .. last inclusive
  Tokens t;
  for (TokenId i = first; i <= last; ++i) t.push_back(i);
  return t;
}

Tokens ProposeAfter(DraftSource& d, const Tokens& generated, int32_t max, const Tokens& prompt = {}) {
  Tokens out;
  d.Propose(prompt, generated, max, &out);
  return out;
}

TEST(PredictionDraft, FollowsTheOutputWhileItMatches) {
  PredictionDraft d(Range(100, 140));
  EXPECT_EQ(ProposeAfter(d, {}, 4), Range(100, 103));
  EXPECT_EQ(ProposeAfter(d, Range(100, 102), 4), Range(103, 106));
  EXPECT_EQ(d.cursor(), 3);
  // The end of the prediction ends the drafts.
  EXPECT_EQ(ProposeAfter(d, Range(100, 138), 8), Range(139, 140));
  EXPECT_TRUE(ProposeAfter(d, Range(100, 140), 8).empty());
}

TEST(PredictionDraft, ResynchronisesAfterAnInsertion) {
  PredictionDraft d(Range(100, 140));
  Tokens out = Range(100, 109);
  out.insert(out.end(), {7, 8, 9, 5});  // new text the prediction lacks
  EXPECT_TRUE(ProposeAfter(d, out, 4).empty());
  EXPECT_EQ(d.cursor(), -1);
  // The model returns to the prediction: three matching tokens re-align it.
  out.insert(out.end(), {110, 111});
  EXPECT_TRUE(ProposeAfter(d, out, 4).empty());
  out.push_back(112);
  EXPECT_EQ(ProposeAfter(d, out, 4), Range(113, 116));
}

TEST(PredictionDraft, ResynchronisesAfterADeletionOrAReplacement) {
  PredictionDraft d(Range(100, 140));
  Tokens out = Range(100, 105);
  ProposeAfter(d, out, 4);
  for (TokenId t : {120, 121, 122}) out.push_back(t);  // skipped 106..119
  EXPECT_EQ(ProposeAfter(d, out, 3), Range(123, 125));
  // A replaced token, then the prediction again.
  for (TokenId t : {1, 124, 125, 126}) out.push_back(t);  // 1 replaces 123
  EXPECT_EQ(ProposeAfter(d, out, 2), Range(127, 128));
}

TEST(PredictionDraft, PrefersTheNearestLaterOccurrenceOfARepeatedLine) {
  // The same three tokens occur twice: the cursor goes to the one after it.
  PredictionDraft d({1, 2, 3, 50, 60, 1, 2, 3, 70, 80});
  Tokens out = {1, 2, 3, 50, 60, 9};  // cursor lost after 60
  ProposeAfter(d, out, 2);
  out.insert(out.end(), {1, 2, 3});
  EXPECT_EQ(ProposeAfter(d, out, 2), Tokens({70, 80}));
}

TEST(LookupDraft, ProposesWhatFollowedTheLatestOccurrence) {
  LookupDraft d(2, 4);
  const Tokens prompt = {5, 6, 7, 8, 9, 5, 6, 10, 11, 12};
  // Output ends with 5 6: the latest earlier "5 6" is followed by 10 11 12.
  EXPECT_EQ(ProposeAfter(d, {1, 5, 6}, 3, prompt), Tokens({10, 11, 12}));
  // The longer n-gram "9 5 6" wins over the later "5 6".
  const Tokens prompt2 = {9, 5, 6, 30, 31, 5, 6, 40};
  EXPECT_EQ(ProposeAfter(d, {9, 5, 6}, 2, prompt2), Tokens({30, 31}));
  // Nothing to match: no draft.
  EXPECT_TRUE(ProposeAfter(d, {77, 78}, 3, prompt).empty());
  // A match inside the output itself (a repeated line being generated).
  EXPECT_EQ(ProposeAfter(d, {20, 21, 22, 23, 20, 21}, 2, {}), Tokens({22, 23}));
  // Running into the end, the draft continues the repeating pattern.
  EXPECT_EQ(ProposeAfter(d, {20, 21, 22, 23, 20, 21}, 6, {}), Tokens({22, 23, 20, 21, 22, 23}));
}

TEST(DraftLength, GrowsOnFullAcceptanceAndBacksOffOnRejection) {
  DraftLength l(8, 16);
  l.Record(8, 8);
  EXPECT_EQ(l.get(), 16);
  l.Record(16, 16);
  EXPECT_EQ(l.get(), 16);
  l.Record(16, 2);
  EXPECT_EQ(l.get(), 8);
  l.Record(8, 0);
  EXPECT_EQ(l.get(), 4);
  l.Record(4, 0);
  l.Record(2, 0);
  l.Record(1, 0);
  EXPECT_EQ(l.get(), 1);
  l.Record(0, 0);  // nothing proposed: unchanged
  EXPECT_EQ(l.get(), 1);
}

TEST(Drafter, PausesAfterFailingOneTokenDraftsAndResumes) {
  Drafter d({}, true);
  const Tokens prompt = {1, 2, 3, 1, 2, 3, 1, 2};
  Tokens out;
  auto propose = [&] {
    d.Propose(prompt, {}, 16, &out);
    return out.size();
  };
  ASSERT_EQ(propose(), 8u);  // the initial length
  d.Record(8, 0);            // 8 -> 4
  d.Record(4, 0);            // 4 -> 2
  d.Record(2, 0);            // 2 -> 1
  EXPECT_EQ(d.paused(), 0);
  d.Record(1, 0);            // at length 1: pause 1 step
  EXPECT_EQ(d.paused(), 1);
  EXPECT_EQ(propose(), 0u);
  EXPECT_EQ(propose(), 1u);
  d.Record(1, 0);            // again: pause 2 steps
  EXPECT_EQ(propose(), 0u);
  EXPECT_EQ(propose(), 0u);
  EXPECT_EQ(propose(), 1u);
  d.Record(1, 1);            // a success ends the backing off and grows the length
  EXPECT_EQ(d.paused(), 0);
  EXPECT_EQ(propose(), 2u);
}

TEST(Drafter, PredictionFirstThenLookup) {
  Drafter d({100, 101, 102, 103}, true);
  Tokens out;
  d.Propose({1, 2, 3, 1, 2}, {}, 8, &out);
  EXPECT_EQ(out, Tokens({100, 101, 102, 103}));
  // Off the prediction (and no three-token match in it): lookup proposes.
  d.Propose({1, 2, 3, 4}, {7, 1, 2}, 8, &out);
  EXPECT_EQ(out, Tokens({3, 4, 7, 1, 2, 3, 4, 7}));
  Drafter none({}, false);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace glint::engine
