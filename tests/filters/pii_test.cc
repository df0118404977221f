#include "filters/pii.h"

#include <zlib.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace winnow::filters {
namespace {

using pipeline::Document;

const std::string kData = std::string(WINNOW_SHARED_DIR) + "/data";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<PiiFormatter> Make(PiiOptions options = {}) {
  auto f = PiiFormatter::Create(std::move(options));
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? std::move(*f) : nullptr;
}

// The reference test's formatter: PIIFormatter(email_replacement="EMAIL", ip_replacement="IP").
std::unique_ptr<PiiFormatter> ReferenceTestFormatter() {
  PiiOptions options;
  options.email_replacement = {"EMAIL"};
  options.ip_replacement = {"IP"};
  return Make(options);
}

TEST(Pii, EmailPairMatchesReferenceByteForByte) {
  const std::string input = ReadFile(kData + "/filters/pii_email_test_input.txt");
  const std::string output = ReadFile(kData + "/filters/pii_email_test_output.txt");
  ASSERT_FALSE(input.empty());
  EXPECT_EQ(ReferenceTestFormatter()->Redact(input), output);
}

TEST(Pii, IpPairMatchesReferenceByteForByte) {
  const std::string input = ReadFile(kData + "/filters/pii_ip_test_input.txt");
  const std::string output = ReadFile(kData + "/filters/pii_ip_test_output.txt");
  ASSERT_FALSE(input.empty());
  EXPECT_EQ(ReferenceTestFormatter()->Redact(input), output);
}

TEST(Pii, MatchesReferenceOnRealText) {
  // PIIFormatter defaults, a fresh formatter per document.
  gzFile f =
      gzopen((std::string(WINNOW_SOURCE_DIR) + "/tests/filters/testdata/datatrove_golden.jsonl.gz")
                 .c_str(),
             "rb");
  if (f == nullptr) GTEST_SKIP() << "no golden file";
  std::string data;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) data.append(buf, n);
  gzclose(f);
  auto pii = Make();
  size_t checked = 0, changed = 0, start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    const nlohmann::json d = nlohmann::json::parse(data.substr(start, end - start));
    start = end + 1;
    if (!d["decisions"].contains("pii")) continue;
    const std::string text = d["text"];
    const std::string want = d["decisions"]["pii"]["text"];
    ASSERT_EQ(pii->Redact(text), want) << d["id"];
    changed += want != text;
    ++checked;
  }
  EXPECT_GT(checked, 4000u);
  EXPECT_GT(changed, 0u);
}

TEST(Pii, RotatesReplacementsPerDocument) {
  auto pii = Make();
  Document doc;
  doc.text = "a@example.com b@example.com c@example.com 8.8.8.8 1.1.1.1 10.0.0.1 9.9.9.9";
  EXPECT_TRUE(pii->Check(&doc).kept);
  EXPECT_EQ(doc.text,
            "email@example.com firstname.lastname@example.org email@example.com 22.214.171.124 "
            "126.96.36.199 10.0.0.1 188.8.131.52");
  EXPECT_EQ(doc.metadata["pii_emails"], 3);
  EXPECT_EQ(doc.metadata["pii_ips"], 3);
  // The next document starts the rotation again.
  Document next;
  next.text = "x@example.com";
  pii->Check(&next);
  EXPECT_EQ(next.text, "email@example.com");
  EXPECT_EQ(next.metadata["pii_emails"], 1);
}

TEST(Pii, EmailNeedsAUnicodeWordBoundary) {
  auto pii = ReferenceTestFormatter();
  EXPECT_EQ(pii->Redact("écrire à x@example.com"), "écrire à EMAIL");
  // A letter glued before the address: no boundary anywhere in the word (as Python's \b).
  EXPECT_EQ(pii->Redact("éemail@example.com"), "éemail@example.com");
  EXPECT_EQ(pii->Redact("あいうえおemail@example.com"), "あいうえおemail@example.com");
  // A symbol first needs a word character before it.
  EXPECT_EQ(pii->Redact("a#b@example.com"), "EMAIL");
  EXPECT_EQ(pii->Redact(" #b@example.com"), " #EMAIL");
  EXPECT_EQ(pii->Redact("a@b.com,c@d.org"), "EMAIL,EMAIL");
  EXPECT_EQ(pii->Redact("x@[1.2.3.4]"), "EMAIL");
}

TEST(Pii, PrivateIpsStayUnlessAllAreRemoved) {
  PiiOptions options;
  options.ip_replacement = {"IP"};
  EXPECT_EQ(Make(options)->Redact("10.0.0.1 100.64.1.1 192.0.0.9 192.0.0.8 224.0.0.1"),
            "10.0.0.1 100.64.1.1 IP 192.0.0.8 IP");
  options.only_remove_public_ips = false;
  EXPECT_EQ(Make(options)->Redact("10.0.0.1 127.0.0.1 1.2.3.04"), "IP IP 1.2.3.04");
}

TEST(Pii, SwitchesOffEachKind) {
  PiiOptions options;
  options.remove_emails = false;
  options.remove_ips = false;
  auto pii = Make(options);
  Document doc;
  doc.text = "a@example.com 8.8.8.8";
  pii->Check(&doc);
  EXPECT_EQ(doc.text, "a@example.com 8.8.8.8");
  EXPECT_FALSE(doc.metadata.contains("pii_emails"));
}

TEST(Pii, EmptyReplacementListIsAnError) {
  PiiOptions options;
  options.email_replacement = {};
  EXPECT_FALSE(PiiFormatter::Create(options).ok());
  options.remove_emails = false;
  EXPECT_TRUE(PiiFormatter::Create(options).ok());
}

TEST(Pii, ExtrasAreOffByDefault) {
  const std::string text =
      "card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, call 415-555-2671, "
      "host 2001:4860:4860::8888";
  EXPECT_EQ(Make()->Redact(text), text);
}

TEST(Pii, RedactsValidIbansOnly) {
  PiiOptions options;
  options.remove_ibans = true;
  options.iban_replacement = {"IBAN"};
  auto pii = Make(options);
  PiiCounts counts;
  EXPECT_EQ(pii->Redact("pay DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432 now", &counts),
            "pay IBAN or IBAN now");
  EXPECT_EQ(counts.ibans, 2);
  // One digit changed: the mod-97 check fails.
  EXPECT_EQ(pii->Redact("DE89 3704 0044 0532 0130 01"), "DE89 3704 0044 0532 0130 01");
}

TEST(Pii, RedactsLuhnValidCardNumbersOnly) {
  PiiOptions options;
  options.remove_credit_cards = true;
  options.credit_card_replacement = {"CARD"};
  auto pii = Make(options);
  EXPECT_EQ(pii->Redact("visa 4111 1111 1111 1111, amex 3782-822463-10005."),
            "visa CARD, amex CARD.");
  EXPECT_EQ(pii->Redact("4111 1111 1111 1112"), "4111 1111 1111 1112");          // Luhn fails
  EXPECT_EQ(pii->Redact("order 1234567812345670"), "order 1234567812345670");    // no issuer
  EXPECT_EQ(pii->Redact("41111111111111111111111"), "41111111111111111111111");  // too long
}

TEST(Pii, RedactsPhoneNumbersButNotDatesOrCounts) {
  PiiOptions options;
  options.remove_phone_numbers = true;
  options.phone_number_replacement = {"PHONE"};
  options.remove_ips = false;
  auto pii = Make(options);
  EXPECT_EQ(pii->Redact("call 415-555-2671 or (415) 555-2671 or +44 20 7946 0958."),
            "call PHONE or PHONE or PHONE.");
  for (const std::string keep :
       {"on 2023-01-15 at 12:30", "population 1 000 000 000", "id 1700000000", "ip 10.155.155.155",
        "isbn 978-3-16-148410-0", "v1.2.3"}) {
    EXPECT_EQ(pii->Redact(keep), keep);
  }
}

TEST(Pii, RedactsPublicIpv6Only) {
  PiiOptions options;
  options.remove_ipv6 = true;
  options.ipv6_replacement = {"IP6"};
  auto pii = Make(options);
  EXPECT_EQ(pii->Redact("dns 2001:4860:4860::8888 and 2606:4700:4700::1111."), "dns IP6 and IP6.");
  for (const std::string keep :
       {"::1", "fe80::1", "2001:db8::1", "fd00::1", "at 12:30:45", "std::string", "a::b::c"}) {
    EXPECT_EQ(pii->Redact(keep), keep);
  }
}

TEST(Pii, BadInputGetsADecision) {
  PiiOptions options;
  options.remove_ipv6 = options.remove_ibans = options.remove_credit_cards =
      options.remove_phone_numbers = true;
  auto pii = Make(options);
  const auto begin = std::chrono::steady_clock::now();
  std::string many_words;
  for (int i = 0; i < 1000000; ++i) many_words += "word ";
  std::string at_signs;
  for (int i = 0; i < 100000; ++i) at_signs += "a.b@c";
  std::string digits;
  for (int i = 0; i < 100000; ++i) digits += "1.2.3.";
  for (const std::string& text :
       {std::string(), std::string("!!!???...,,,;;;"), std::string("\xff\xfe x@example.com \xc3"),
        std::string(1 << 20, 'a') + "@example.com", std::string(1 << 20, '1'),
        std::string(1 << 20, ':'), many_words, at_signs, digits}) {
    Document doc;
    doc.text = text;
    EXPECT_TRUE(pii->Check(&doc).kept);
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(), 5.0);
}

TEST(Pii, BindsEveryOptionUnderItsReferenceName) {
  PiiOptions options;
  ParamBinder binder("pii");
  BindParams(&options, &binder);
  for (const char* name : {"remove_emails", "remove_ips", "only_remove_public_ips",
                           "email_replacement", "ip_replacement"}) {
    EXPECT_TRUE(binder.Has(name)) << name;
  }
  ASSERT_TRUE(binder.Set("ip_replacement", "IP", "test").ok());
  EXPECT_EQ(options.ip_replacement, (std::vector<std::string>{"IP"}));
}

}  // namespace
}  // namespace winnow::filters
