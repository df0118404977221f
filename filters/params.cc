#include "filters/params.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace winnow::filters {
namespace {

template <typename T>
bool Scalar(const YAML::Node& node, T* out) {
  if (!node.IsScalar()) return false;
  try {
    *out = node.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

bool ToStringList(const YAML::Node& node, std::vector<std::string>* out) {
  std::vector<std::string> values;
  if (node.IsScalar()) {
    const std::string text = node.Scalar();
    size_t start = 0;
    while (start <= text.size()) {
      size_t comma = text.find(',', start);
      if (comma == std::string::npos) comma = text.size();
      std::string item = text.substr(start, comma - start);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (!item.empty()) values.push_back(item);
      start = comma + 1;
    }
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) return false;
      values.push_back(item.Scalar());
    }
  } else if (!node.IsNull()) {
    return false;
  }
  *out = std::move(values);
  return true;
}

bool ToThresholds(const YAML::Node& node, NGramThresholds* out) {
  if (!node.IsSequence()) return false;
  NGramThresholds values;
  for (const YAML::Node& pair : node) {
    if (!pair.IsSequence() || pair.size() != 2) return false;
    int n;
    double threshold;
    if (!Scalar(pair[0], &n) || !Scalar(pair[1], &threshold)) return false;
    values.emplace_back(n, threshold);
  }
  *out = std::move(values);
  return true;
}

std::string Shown(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter e;
  e << YAML::Flow << node;
  return e.c_str();
}

}  // namespace

const ParamBinder::Param* ParamBinder::Find(std::string_view name) const {
  for (const Param& p : params_) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

bool ParamBinder::Has(std::string_view name) const { return Find(name) != nullptr; }

std::vector<std::string> ParamBinder::names() const {
  std::vector<std::string> out;
  for (const Param& p : params_) out.emplace_back(p.name);
  return out;
}

absl::Status ParamBinder::SetNode(const Param& param, const YAML::Node& value,
                                  std::string_view where) const {
  bool ok = false;
  std::visit(
      [&](auto* field) {
        using T = std::remove_pointer_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          ok = ToStringList(value, field);
        } else if constexpr (std::is_same_v<T, NGramThresholds>) {
          ok = ToThresholds(value, field);
        } else {
          ok = Scalar(value, field);
        }
      },
      param.field);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": bad value '", Shown(value),
                                                 "' for ", filter_, ".", param.name));
}

absl::Status ParamBinder::Apply(const YAML::Node& map, std::string_view where,
                                const std::vector<std::string>& ignore) {
  if (!map || map.IsNull()) return absl::OkStatus();
  if (!map.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), ": '", filter_, "' must be a mapping of parameters"));
  }
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    bool skip = false;
    for (const std::string& i : ignore) skip = skip || i == key;
    if (skip) continue;
    const Param* param = Find(key);
    if (param == nullptr) {
      std::string known;
      for (const Param& p : params_) absl::StrAppend(&known, known.empty() ? "" : ", ", p.name);
      return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": unknown parameter '",
                                                     filter_, ".", key, "' (known: ", known, ")"));
    }
    if (absl::Status s = SetNode(*param, entry.second, where); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ParamBinder::Set(std::string_view name, std::string_view value,
                              std::string_view where) {
  const Param* param = Find(name);
  if (param == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(where), ": unknown parameter '",
                                                   filter_, ".", std::string(name), "'"));
  }
  YAML::Node node;
  try {
    node = YAML::Load(std::string(value));
  } catch (const YAML::Exception&) {
    node = YAML::Node(std::string(value));
  }
  if (node.IsNull()) node = YAML::Node(std::string(value));
  return SetNode(*param, node, where);
}

YAML::Node ParamBinder::ToYaml() const {
  YAML::Node out(YAML::NodeType::Map);
  for (const Param& p : params_) {
    std::visit(
        [&](auto* field) {
          using T = std::remove_pointer_t<decltype(field)>;
          if constexpr (std::is_same_v<T, NGramThresholds>) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (const auto& [n, t] : *field) {
              YAML::Node pair(YAML::NodeType::Sequence);
              pair.push_back(n);
              pair.push_back(t);
              pair.SetStyle(YAML::EmitterStyle::Flow);
              list.push_back(pair);
            }
            out[p.name] = list;
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (const std::string& s : *field) list.push_back(s);
            list.SetStyle(YAML::EmitterStyle::Flow);
            out[p.name] = list;
          } else {
            out[p.name] = *field;
          }
        },
        p.field);
  }
  return out;
}

}  // namespace winnow::filters
