// filters/internal/url_parts.h — the parts of a URL the URL filter looks up, with the semantics of
// tldextract (the reference's URL parser) in its default mode: public suffixes from the ICANN
// section of the Public Suffix List only (private entries such as blogspot.com are ordinary
// domains), and no implicit "*" rule (an unknown TLD has no suffix, hence no registered domain).
// Defined in filters/url_filter.cc.
#pragma once

#include <string>
#include <string_view>

namespace winnow::filters::internal {

struct UrlHost {
  std::string host;               // lower-cased; no scheme, userinfo, port or trailing dots
  std::string registered_domain;  // domain + public suffix ("b.co.uk" for a.b.co.uk), or ""
  std::string fqdn;               // the host when it has a registered domain, else ""
};

// Never fails: a URL without a recognisable host gives empty parts.
UrlHost ParseUrlHost(std::string_view url);

// True when the process could load a public suffix list (libpsl's newest of its built-in list and
// the system's /usr/share/publicsuffix).
bool PublicSuffixListAvailable();

}  // namespace winnow::filters::internal
