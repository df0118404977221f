// filters/pii.h — PII redaction, a modifier that never drops (datatrove PIIFormatter). As the
// reference: e-mail addresses (an RFC 5322-like pattern that starts at a word boundary, Unicode
// aware) and then IPv4 addresses that are globally routable (Python's ipaddress is_global; leading
// zeros make an address invalid, left alone) are replaced by the next string of a rotation.
// Beyond the reference, off by default: IPv6 addresses (validated), IBANs (mod-97 check),
// payment card numbers (issuer prefix, length and Luhn check) and phone numbers (10-15 digits in
// separated groups, or "+" and 8-15 digits). Passes run in that order, each on the previous
// pass's output. Counts go to metadata: pii_emails, pii_ips, pii_ipv6, pii_ibans,
// pii_credit_cards, pii_phone_numbers (only those above zero).
//
// Rotation restarts for every document (the reference carries it from one document to the next
// within a task, which would make output depend on how documents are split into tasks).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "filters/params.h"
#include "pipeline/filter.h"

namespace winnow::filters {

struct PiiOptions {
  bool remove_emails = true;           // replace e-mail addresses
  bool remove_ips = true;              // replace IPv4 addresses
  bool only_remove_public_ips = true;  // keep private, loopback, reserved… (IPv4 and IPv6)
  std::vector<std::string> email_replacement = {"email@example.com",
                                                "firstname.lastname@example.org"};  // rotation
  std::vector<std::string> ip_replacement = {"22.214.171.124", "126.96.36.199",
                                             "188.8.131.52",   "184.108.40.206",
                                             "220.127.116.11", "18.104.22.168"};  // rotation
  bool remove_ipv6 = false;                                     // ours: IPv6 addresses
  std::vector<std::string> ipv6_replacement = {"2001:db8::1"};  // documentation prefix
  bool remove_ibans = false;                                    // ours: IBANs passing mod-97
  std::vector<std::string> iban_replacement = {"GB82WEST12345698765432"};  // the ISO example
  bool remove_credit_cards = false;  // ours: card numbers passing the Luhn check
  std::vector<std::string> credit_card_replacement = {"4111111111111111"};  // a test number
  bool remove_phone_numbers = false;                                        // ours
  std::vector<std::string> phone_number_replacement = {"+1-202-555-0100"};  // a fictional number
};

// Binds every option under its datatrove name (the extras under ours).
void BindParams(PiiOptions* options, ParamBinder* binder);

// How many of each were replaced in one document.
struct PiiCounts {
  int emails = 0;
  int ips = 0;
  int ipv6 = 0;
  int ibans = 0;
  int credit_cards = 0;
  int phone_numbers = 0;
};

class PiiFormatter final : public pipeline::Filter {
 public:
  // An empty replacement list for an enabled kind is an error.
  static absl::StatusOr<std::unique_ptr<PiiFormatter>> Create(PiiOptions options);

  std::string_view name() const override { return "pii"; }
  // Rewrites doc->text, adds the counts to metadata; always keeps.
  pipeline::Verdict Check(pipeline::Document* doc) const override;

  // The redacted text; `counts` (optional) receives what was replaced.
  std::string Redact(std::string_view text, PiiCounts* counts = nullptr) const;

  explicit PiiFormatter(PiiOptions options);

 private:
  PiiOptions options_;
};

}  // namespace winnow::filters
