// tests/pipeline/html/prescan_test.cc — the pre-scanner removes what carries no text and follows
// the HTML tokenizer closely enough that the extracted text never changes.
#include "pipeline/html/prescan.h"

#include <gtest/gtest.h>

#include <string>

#include "pipeline/html/extractor.h"

namespace winnow::pipeline {
namespace {

std::string Thin(std::string_view html) { return Prescan(html).html; }

// The main text of `html` with and without the pre-scanner must be the same.
void ExpectSameText(std::string_view html) {
  ExtractOptions with;
  with.min_text_chars = 0;
  ExtractOptions without = with;
  without.prescan = false;
  EXPECT_EQ(ExtractMainText(html, "", with).text, ExtractMainText(html, "", without).text) << html;
}

TEST(Prescan, RemovesScriptStyleCommentSvgNoscriptTemplateBodies) {
  const std::string out = Thin(
      "<html><head><style>p{color:red}</style><script>var a = 1;</script></head><body>"
      "<!-- a comment --><noscript>enable js</noscript><template><p>later</p></template>"
      "<svg viewBox='0 0 1 1'><path d='M0 0'/><text>icon</text></svg><p>kept</p></body></html>");
  EXPECT_EQ(out.find("color:red"), std::string::npos);
  EXPECT_EQ(out.find("var a"), std::string::npos);
  EXPECT_EQ(out.find("a comment"), std::string::npos);
  EXPECT_EQ(out.find("enable js"), std::string::npos);
  EXPECT_EQ(out.find("later"), std::string::npos);
  EXPECT_EQ(out.find("icon"), std::string::npos);
  EXPECT_NE(out.find("<p>kept</p>"), std::string::npos);
}

TEST(Prescan, MatchesTagsCaseInsensitively) {
  const std::string out = Thin("<SCRIPT type=text/javascript>x()</ScRiPt ><P>kept</P>");
  EXPECT_EQ(out.find("x()"), std::string::npos);
  EXPECT_NE(out.find("kept"), std::string::npos);
}

TEST(Prescan, ScriptEndsAtFirstCloseTagEvenInsideAString) {
  // HTML, not JavaScript, decides where a script ends: the rest is page text.
  const std::string out = Thin("<script>var s = \"</script>\"; tail</p>");
  EXPECT_EQ(out.find("var s"), std::string::npos);
  EXPECT_NE(out.find("\"; tail"), std::string::npos);
  ExpectSameText("<p>before</p><script>var s = \"</script>\"; visible text here</p>");
}

TEST(Prescan, FollowsEscapedAndDoubleEscapedScriptStates) {
  // Inside "<!-- <script>" a "</script>" does not end the script; "-->" leaves that state.
  const std::string out =
      Thin("<script><!-- <script>x()</script> still script --></script><p>after</p>");
  EXPECT_EQ(out.find("still script"), std::string::npos);
  EXPECT_NE(out.find("<p>after</p>"), std::string::npos);
  ExpectSameText("<script><!-- <script>x()</script> y --></script><p>after the script</p>");
  ExpectSameText("<script><!--</script><p>after an escaped close</p>");
}

TEST(Prescan, UnclosedCommentRunsToTheEnd) {
  const std::string out = Thin("<p>seen</p><!-- never closed <p>hidden</p>");
  EXPECT_NE(out.find("seen"), std::string::npos);
  EXPECT_EQ(out.find("hidden"), std::string::npos);
  ExpectSameText("<p>seen</p><!-- never closed <p>hidden</p>");
}

TEST(Prescan, AbruptCommentsEndEarly) {
  EXPECT_NE(Thin("<!--><p>one</p>").find("one"), std::string::npos);
  EXPECT_NE(Thin("<!---><p>two</p>").find("two"), std::string::npos);
  EXPECT_NE(Thin("<!-- x --!><p>three</p>").find("three"), std::string::npos);
}

TEST(Prescan, QuotedAttributesMayHoldMarkup) {
  ExpectSameText("<p title=\"a > b <script> -->\">text after a tricky attribute</p>");
  ExpectSameText("<p data-x='</script><!--'>still a paragraph</p><p>and another</p>");
  EXPECT_NE(Thin("<div class=\"a>b\">kept</div>").find("kept"), std::string::npos);
}

TEST(Prescan, SvgCdataAndBreakOutTags) {
  EXPECT_NE(Thin("<svg><![CDATA[</svg>]]></svg><p>after</p>").find("<p>after"), std::string::npos);
  EXPECT_EQ(Thin("<svg><![CDATA[</svg>]]></svg><p>after</p>").find("CDATA"), std::string::npos);
  // A <p> inside SVG ends the SVG: the parser shows it as HTML.
  EXPECT_NE(Thin("<svg><circle/><p>escaped</p>").find("escaped"), std::string::npos);
  ExpectSameText("<div><svg><circle/><p>escaped from svg</p></div>");
  // Self-closing SVG has no body.
  EXPECT_NE(Thin("<svg/><p>x</p>").find("<p>x</p>"), std::string::npos);
}

TEST(Prescan, RawTextAndRcdataElementsAreNotMarkup) {
  ExpectSameText("<textarea><!--</textarea><p>shown after a textarea</p>");
  ExpectSameText("<title>a <!-- b</title><p>shown after the title</p>");
  ExpectSameText("<style>/* </style> */ p {}</style><p>text after style</p>");
  ExpectSameText("<xmp><!-- <b>not bold</b></xmp><p>after xmp</p>");
  ExpectSameText("<template><template></template><p>inner</p></template><p>outer</p>");
}

TEST(Prescan, KeepsWhitespaceInsidePre) {
  const std::string out = Thin("<p>a    b</p><pre>x    y\n\n  z</pre><p>c  \n  d</p>");
  EXPECT_NE(out.find("a b"), std::string::npos);
  EXPECT_NE(out.find("x    y\n\n  z"), std::string::npos);
  EXPECT_NE(out.find("c\nd"), std::string::npos);
}

TEST(Prescan, KeepsOnlyAttributesExtractionReads) {
  const std::string out = Thin(
      "<a href=\"https://example.com/very/long\" data-track=\"zzz\" class=\"c\">x</a>"
      "<a href='#top'>y</a><div style='display: none'>h</div><div style='color:red'>v</div>");
  EXPECT_EQ(out.find("data-track"), std::string::npos);
  EXPECT_EQ(out.find("example.com"), std::string::npos);
  EXPECT_NE(out.find("class=\"c\""), std::string::npos);
  EXPECT_NE(out.find("href=\"#\""), std::string::npos);
  EXPECT_NE(out.find("display: none"), std::string::npos);
  EXPECT_EQ(out.find("color:red"), std::string::npos);
}

TEST(Prescan, BoundsNestingDepthKeepingText) {
  std::string html;
  for (int i = 0; i < 5000; ++i) html += "<div>";
  html += "deep text";
  for (int i = 0; i < 5000; ++i) html += "</div>";
  PrescanOptions options;
  options.max_depth = 100;
  const PrescanResult result = Prescan(html, options);
  EXPECT_EQ(result.start_tags, 100u);
  EXPECT_EQ(result.dropped_tags, 4900u);
  EXPECT_NE(result.html.find("deep text"), std::string::npos);
}

TEST(Prescan, TruncatedInputsDoNotOverrun) {
  for (std::string_view html :
       {"<", "<!", "<!-", "<!--", "<a", "<a href=\"", "<script", "<script>", "<script><!--", "<svg",
        "<svg><![CDATA[", "</", "</a", "<template><p", "<p>x</p><div class='"}) {
    const PrescanResult result = Prescan(html);
    EXPECT_LE(result.html.size(), html.size() + 8) << html;
  }
}

}  // namespace
}  // namespace winnow::pipeline
