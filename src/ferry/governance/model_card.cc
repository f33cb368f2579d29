#include "ferry/governance/model_card.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ferry/governance/internal/format.h"
#include "ferry/governance/internal/resolve.h"
#include "nlohmann/json.hpp"

namespace ferry::governance {
namespace {

using internal::FormatNumber;
using internal::FormatTimeMs;
using internal::Sv;
using nlohmann::json;

// ---------------------------------------------------------------------------
// A small document model, rendered to Markdown or HTML, so both formats carry
// exactly the same content.

enum class Style { kPlain, kBold, kItalic, kMarkdown };
struct Span {
  Style style = Style::kPlain;
  std::string text;
};
using Inline = std::vector<Span>;

Span Plain(std::string text) { return {Style::kPlain, std::move(text)}; }
Span Bold(std::string text) { return {Style::kBold, std::move(text)}; }
Span Italic(std::string text) { return {Style::kItalic, std::move(text)}; }
Span Markdown(std::string text) { return {Style::kMarkdown, std::move(text)}; }

struct ListItem {
  Inline text;
  std::vector<std::string> sub;  // a nested list of plain lines
};

struct Block {
  enum class Kind { kParagraph, kHeading, kList, kTable, kCode };
  Kind kind = Kind::kParagraph;
  Inline text;                                 // paragraph, heading
  std::vector<ListItem> items;                 // list
  std::vector<std::string> header;             // table
  std::vector<std::vector<std::string>> rows;  // table
  std::string code;                            // code
};

Block Paragraph(Inline text) {
  return Block{.kind = Block::Kind::kParagraph, .text = std::move(text)};
}
Block Heading(std::string text) {
  return Block{.kind = Block::Kind::kHeading, .text = {Plain(std::move(text))}};
}
Block List(std::vector<ListItem> items) {
  return Block{.kind = Block::Kind::kList, .items = std::move(items)};
}
Block Table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  return Block{.kind = Block::Kind::kTable, .header = std::move(header), .rows = std::move(rows)};
}
Block CodeBlock(std::string code) {
  return Block{.kind = Block::Kind::kCode, .code = std::move(code)};
}
Block Note(std::string text) { return Paragraph({Italic(std::move(text))}); }

struct Section {
  std::string title;
  std::vector<Block> blocks;
};

struct Card {
  std::string title;
  std::vector<Section> sections;
  std::string footer;
};

// ---------------------------------------------------------------------------
// Reading the audit history.

json ParseJson(const std::string& text) {
  if (text.empty()) return json(nullptr);
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string Compact(const json& value, size_t limit = 300) {
  if (value.is_discarded()) return "(invalid JSON)";
  std::string text = value.is_string() ? value.get<std::string>()
                                       : value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > limit) {
    text.resize(limit);
    text += "...";
  }
  return text;
}

// Whether `entry` is about model `name` (ListAudit matches object ids by
// prefix, so "credit" also returns "credit2").
bool AboutModel(const store::AuditEntry& entry, const std::string& name) {
  const std::string& id = entry.object_id;
  return id == name || (id.size() > name.size() && id.starts_with(name) &&
                        (id[name.size()] == '/' || id[name.size()] == '@'));
}

std::optional<int64_t> JsonVersion(const json& value) {
  if (!value.is_object()) return std::nullopt;
  auto it = value.find("version");
  if (it == value.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    if (!s.empty() && absl::SimpleAtoi(s, &v)) return v;
  }
  return std::nullopt;
}

// The model version an entry concerns: "<name>/<N>" objects, else the
// "version" of its after (or before) JSON.
std::optional<int64_t> EntryVersion(const store::AuditEntry& entry, const std::string& name) {
  const std::string& id = entry.object_id;
  if (id.size() > name.size() + 1 && id.starts_with(name) && id[name.size()] == '/') {
    int64_t v = 0;
    if (absl::SimpleAtoi(Sv(std::string_view(id).substr(name.size() + 1)), &v)) return v;
  }
  if (auto v = JsonVersion(ParseJson(entry.after_json))) return v;
  return JsonVersion(ParseJson(entry.before_json));
}

// Elements of every top-level array in `after` whose key contains `word`;
// nullopt when there is no such array.
std::optional<std::vector<std::string>> ArraysNamed(const json& after, std::string_view word) {
  if (!after.is_object()) return std::nullopt;
  std::optional<std::vector<std::string>> out;
  for (const auto& [key, value] : after.items()) {
    if (!value.is_array() || !absl::StrContains(key, Sv(word))) continue;
    if (!out) out.emplace();
    for (const auto& item : value) out->push_back(Compact(item));
  }
  return out;
}

std::string EntryHeadline(const store::AuditEntry& e) {
  std::string line = absl::StrCat(FormatTimeMs(e.timestamp), " ", e.action, " ", e.object_id);
  if (!e.actor.empty()) absl::StrAppend(&line, " by ", e.actor);
  return line;
}

json WithoutGates(json value) {
  if (!value.is_object()) return value;
  json out = json::object();
  for (const auto& [key, v] : value.items()) {
    if (!absl::StrContains(key, "gates") && !absl::StrContains(key, "failures")) out[key] = v;
  }
  return out;
}

std::string Scalar(const json& object, const char* key) {
  if (!object.is_object()) return "none";
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "none";
  return Compact(*it, 100);
}

// "version 2 -> 3", "stage None -> Production", else compact before -> after.
std::string ChangeSummary(const store::AuditEntry& e) {
  json before = ParseJson(e.before_json);
  json after = ParseJson(e.after_json);
  std::vector<std::string> parts;
  static constexpr std::pair<const char*, const char*> kFields[] = {{"version", "version"},
                                                                    {"current_stage", "stage"}};
  for (const auto& [key, label] : kFields) {
    bool in_before = before.is_object() && before.contains(key);
    bool in_after = after.is_object() && after.contains(key);
    if (in_before || in_after) {
      parts.push_back(
          absl::StrCat(label, " ", Scalar(before, key), " \u2192 ", Scalar(after, key)));
    }
  }
  if (!parts.empty()) return absl::StrJoin(parts, ", ");
  return absl::StrCat(Compact(WithoutGates(before)), " \u2192 ", Compact(WithoutGates(after)));
}

bool IsAliasOrStageEvent(const store::AuditEntry& e) {
  return e.action.starts_with("alias.") || absl::StrContains(e.action, "stage");
}

// ---------------------------------------------------------------------------
// Building the card.

std::string VersionDescription(const store::ModelVersion& v) {
  return absl::StrCat(v.name, " v", v.version);
}

Section Overview(const ModelCardData& d) {
  const store::ModelVersion& v = d.version;
  std::vector<std::vector<std::string>> rows = {
      {"Model", d.model.name.empty() ? v.name : d.model.name},
      {"Version", std::to_string(v.version)},
      {"Stage", v.current_stage},
      {"Aliases", v.aliases.empty() ? "none" : absl::StrJoin(v.aliases, ", ")},
      {"Status", v.status},
      {"Registered", absl::StrCat(FormatTimeMs(v.creation_timestamp),
                                  v.user_id.empty() ? "" : " by ", v.user_id)},
      {"Source", v.source},
      {"Source run", v.run_id.empty() ? "none" : v.run_id},
  };
  return Section{"Overview", {Table({"Field", "Value"}, std::move(rows))}};
}

Section Description(const ModelCardData& d) {
  Section s{"Description and intended use", {}};
  s.blocks.push_back(Paragraph(
      {Bold("Model."), Plain(" "),
       d.model.description.empty() ? Italic("No description.") : Markdown(d.model.description)}));
  s.blocks.push_back(Paragraph({Bold("This version."), Plain(" "),
                                d.version.description.empty() ? Italic("No description.")
                                                              : Markdown(d.version.description)}));
  const std::string* intended = internal::FindTag(d.version.tags, "intended_use");
  if (intended == nullptr) intended = internal::FindTag(d.model.tags, "intended_use");
  s.blocks.push_back(Paragraph(
      {Bold("Intended use."), Plain(" "),
       intended ? Markdown(*intended)
                : Italic("Not stated (set the tag intended_use on the model or the version).")}));
  return s;
}

Section Data(const ModelCardData& d) {
  Section s{"Training data lineage", {}};
  const auto& run = d.lineage.run;
  if (!run) {
    s.blocks.push_back(Note("No source run is recorded for this version, so its data is unknown."));
    return s;
  }
  if (run->dataset_inputs.empty()) {
    s.blocks.push_back(Note("No datasets were logged on the source run."));
    return s;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& input : run->dataset_inputs) {
    const store::Dataset& ds = input.dataset;
    rows.push_back(
        {ds.name, ds.digest, ds.source_type, ds.source, internal::DatasetContext(input)});
  }
  s.blocks.push_back(
      Table({"Dataset", "Digest", "Source type", "Source", "Context"}, std::move(rows)));
  return s;
}

Section Metrics(const ModelCardData& d) {
  Section s{"Metrics", {}};
  const auto& run = d.lineage.run;
  if (!run || run->metrics.empty()) {
    s.blocks.push_back(Note("No metrics were logged on the source run."));
    return s;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : run->metrics) {
    rows.push_back({m.key, FormatNumber(m.value), std::to_string(m.step)});
  }
  s.blocks.push_back(Table({"Metric", "Value", "Step"}, std::move(rows)));
  return s;
}

Section Parameters(const ModelCardData& d) {
  Section s{"Parameters", {}};
  const auto& run = d.lineage.run;
  if (!run || run->params.empty()) {
    s.blocks.push_back(Note("No parameters were logged on the source run."));
    return s;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : run->params) rows.push_back({p.key, p.value});
  s.blocks.push_back(Table({"Parameter", "Value"}, std::move(rows)));
  return s;
}

Section Gates(const ModelCardData& d, const std::vector<const store::AuditEntry*>& history) {
  Section s{"Promotion gates", {}};
  s.blocks.push_back(Heading("Policy"));
  if (!d.policy) {
    s.blocks.push_back(Note("This model has no promotion policy."));
  } else {
    const Policy& p = *d.policy;
    auto or_none = [](const std::vector<std::string>& v) {
      return v.empty() ? std::string("none") : absl::StrJoin(v, ", ");
    };
    std::vector<std::string> tags;
    for (const auto& [k, v] : p.required_tags) tags.push_back(absl::StrCat(k, " = ", v));
    s.blocks.push_back(List({
        {{Plain("Protected aliases: " + or_none(p.protected_aliases))}, {}},
        {{Plain("Protected stages: " + or_none(p.protected_stages))}, {}},
        {{Plain(p.conditions.empty() ? "Conditions: none" : "Conditions:")}, p.conditions},
        {{Plain(tags.empty() ? "Required tags: none" : "Required tags:")}, tags},
        {{Plain(absl::StrCat("Required approvals: ", p.required_approvals))}, {}},
    }));
  }

  std::vector<ListItem> passed, forced, policy_changes;
  for (const store::AuditEntry* e : history) {
    if (e->action.starts_with("policy.")) {
      policy_changes.push_back({{Plain(EntryHeadline(*e))}, {}});
      continue;
    }
    if (EntryVersion(*e, d.version.name) != d.version.version) continue;
    json after = ParseJson(e->after_json);
    if (e->action.ends_with(".force")) {
      ListItem item{{Plain(EntryHeadline(*e))}, {}};
      if (after.is_object() && after.contains("reason")) {
        item.sub.push_back("reason: " + Compact(after["reason"], 1000));
      }
      if (auto failures = ArraysNamed(after, "fail")) {
        for (auto& failure : *failures) item.sub.push_back("overridden: " + std::move(failure));
      }
      forced.push_back(std::move(item));
      continue;
    }
    if (auto gates = ArraysNamed(after, "gates")) {
      if (gates->empty()) gates->push_back("(the policy had no gate for this target)");
      passed.push_back({{Plain(EntryHeadline(*e))}, std::move(*gates)});
    }
  }
  s.blocks.push_back(Heading("Gates passed by this version"));
  if (passed.empty()) {
    s.blocks.push_back(Note("No gated promotion of this version is recorded."));
  } else {
    s.blocks.push_back(List(std::move(passed)));
  }
  s.blocks.push_back(Heading("Forced overrides"));
  if (forced.empty()) {
    s.blocks.push_back(Note("None: no promotion of this version bypassed its gates."));
  } else {
    s.blocks.push_back(List(std::move(forced)));
  }
  if (!policy_changes.empty()) {
    s.blocks.push_back(Heading("Policy changes"));
    s.blocks.push_back(List(std::move(policy_changes)));
  }
  return s;
}

Section Approvals(const ModelCardData& d) {
  Section s{"Approvals", {}};
  if (d.approvals.empty()) {
    s.blocks.push_back(Note("No approvals are recorded for this version."));
    return s;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : d.approvals) {
    rows.push_back(
        {a.user, a.target, std::to_string(a.version), FormatTimeMs(a.timestamp), a.comment});
  }
  s.blocks.push_back(Table({"User", "Target", "Version", "When", "Comment"}, std::move(rows)));
  return s;
}

Section History(const std::vector<const store::AuditEntry*>& history) {
  Section s{"Alias and stage history", {}};
  std::vector<ListItem> items;
  for (const store::AuditEntry* e : history) {
    if (!IsAliasOrStageEvent(*e)) continue;
    items.push_back({{Plain(absl::StrCat(EntryHeadline(*e), ": ", ChangeSummary(*e)))}, {}});
  }
  if (items.empty()) {
    s.blocks.push_back(Note("No alias or stage changes are recorded for this model."));
  } else {
    s.blocks.push_back(List(std::move(items)));
  }
  return s;
}

Section CodeAndEnvironment(const ModelCardData& d) {
  Section s{"Code and environment", {}};
  const Lineage& l = d.lineage;
  internal::ResolvedCode code = internal::ResolveCode(l);
  auto or_unknown = [](const std::string& v) {
    return v.empty() ? std::string("not recorded") : v;
  };
  std::vector<ListItem> items = {
      {{Plain("Git commit: " + or_unknown(code.git_commit))}, {}},
      {{Plain("Source: " + or_unknown(code.source_name) +
              (code.source_type.empty() ? "" : " (" + code.source_type + ")"))},
       {}},
      {{Plain("Model artifacts: " + or_unknown(d.version.source))}, {}},
  };
  if (l.run) {
    std::string run = l.run->info.run_id;
    if (!l.run->info.run_name.empty()) absl::StrAppend(&run, " (", l.run->info.run_name, ")");
    items.push_back({{Plain("Source run: " + run)}, {}});
  }
  if (l.experiment) {
    items.push_back({{Plain(absl::StrCat("Experiment: ", l.experiment->name, " (id ",
                                         l.experiment->experiment_id, ")"))},
                     {}});
  }
  items.push_back(
      {{Plain("Pipeline run: " + (code.pipeline_run ? *code.pipeline_run : "none"))}, {}});
  s.blocks.push_back(List(std::move(items)));
  if (l.environment_file.empty() && l.environment.empty()) {
    s.blocks.push_back(
        Note("No environment file (requirements.txt, conda.yaml) was found with the model."));
  } else {
    s.blocks.push_back(
        Paragraph({Bold("Environment"),
                   Plain(l.environment_file.empty() ? ":" : " (" + l.environment_file + "):")}));
    s.blocks.push_back(CodeBlock(l.environment));
  }
  return s;
}

Card BuildCard(const ModelCardData& d) {
  std::vector<const store::AuditEntry*> history;
  const std::string& name = d.version.name.empty() ? d.model.name : d.version.name;
  for (const auto& e : d.history) {
    if (AboutModel(e, name)) history.push_back(&e);
  }
  std::sort(history.begin(), history.end(),
            [](const auto* a, const auto* b) { return a->seq < b->seq; });
  Card card;
  card.title = absl::StrCat("Model card: ", VersionDescription(d.version));
  card.sections.push_back(Overview(d));
  card.sections.push_back(Description(d));
  card.sections.push_back(Data(d));
  card.sections.push_back(Metrics(d));
  card.sections.push_back(Parameters(d));
  card.sections.push_back(Gates(d, history));
  card.sections.push_back(Approvals(d));
  card.sections.push_back(History(history));
  card.sections.push_back(CodeAndEnvironment(d));
  card.footer = absl::StrCat("Generated by Ferry at ", FormatTimeMs(d.generated_at_ms), ".");
  return card;
}

// ---------------------------------------------------------------------------
// Markdown.

// Escapes text so that it renders literally: '<' and '&' as entities (no
// HTML tag, autolink or entity can start), Markdown punctuation with
// backslashes, line breaks as spaces. Values never start a line, so '>'
// cannot open a block quote.
std::string MdText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '|':
      case '#':
        out += '\\';
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Author-written Markdown (MLflow descriptions are Markdown): kept as is,
// except that every '<' becomes an entity, so no raw HTML or autolink gets
// through.
std::string MdMarkdown(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out;
}

size_t LongestRun(std::string_view text, char c) {
  size_t best = 0, run = 0;
  for (char x : text) {
    run = x == c ? run + 1 : 0;
    best = std::max(best, run);
  }
  return best;
}

std::string MdInline(const Inline& spans) {
  std::string out;
  for (const Span& s : spans) {
    switch (s.style) {
      case Style::kPlain:
        out += MdText(s.text);
        break;
      case Style::kBold:
        absl::StrAppend(&out, "**", MdText(s.text), "**");
        break;
      case Style::kItalic:
        absl::StrAppend(&out, "_", MdText(s.text), "_");
        break;
      case Style::kMarkdown:
        out += MdMarkdown(s.text);
        break;
    }
  }
  return out;
}

std::string MdRow(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const auto& c : cells) absl::StrAppend(&out, " ", MdText(c), " |");
  return out + "\n";
}

void MdBlock(const Block& b, std::string* out) {
  switch (b.kind) {
    case Block::Kind::kParagraph:
      absl::StrAppend(out, MdInline(b.text), "\n\n");
      break;
    case Block::Kind::kHeading:
      absl::StrAppend(out, "### ", MdInline(b.text), "\n\n");
      break;
    case Block::Kind::kList:
      for (const auto& item : b.items) {
        absl::StrAppend(out, "- ", MdInline(item.text), "\n");
        for (const auto& sub : item.sub) absl::StrAppend(out, "  - ", MdText(sub), "\n");
      }
      *out += "\n";
      break;
    case Block::Kind::kTable: {
      *out += MdRow(b.header);
      *out += "|";
      for (size_t i = 0; i < b.header.size(); ++i) *out += " --- |";
      *out += "\n";
      for (const auto& row : b.rows) *out += MdRow(row);
      *out += "\n";
      break;
    }
    case Block::Kind::kCode: {
      std::string fence(std::max<size_t>(3, LongestRun(b.code, '`') + 1), '`');
      std::string code = b.code;
      if (!code.empty() && code.back() != '\n') code += '\n';
      absl::StrAppend(out, fence, "text\n", code, fence, "\n\n");
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// HTML.

std::string Html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HtmlInline(const Inline& spans) {
  std::string out;
  for (const Span& s : spans) {
    switch (s.style) {
      case Style::kPlain:
        out += Html(s.text);
        break;
      case Style::kBold:
        absl::StrAppend(&out, "<strong>", Html(s.text), "</strong>");
        break;
      case Style::kItalic:
        absl::StrAppend(&out, "<em>", Html(s.text), "</em>");
        break;
      case Style::kMarkdown:
        absl::StrAppend(&out, "<span class=\"md\">", Html(s.text), "</span>");
        break;
    }
  }
  return out;
}

void HtmlBlock(const Block& b, std::string* out) {
  switch (b.kind) {
    case Block::Kind::kParagraph:
      absl::StrAppend(out, "<p>", HtmlInline(b.text), "</p>\n");
      break;
    case Block::Kind::kHeading:
      absl::StrAppend(out, "<h3>", HtmlInline(b.text), "</h3>\n");
      break;
    case Block::Kind::kList:
      *out += "<ul>\n";
      for (const auto& item : b.items) {
        absl::StrAppend(out, "<li>", HtmlInline(item.text));
        if (!item.sub.empty()) {
          *out += "<ul>";
          for (const auto& sub : item.sub) absl::StrAppend(out, "<li>", Html(sub), "</li>");
          *out += "</ul>";
        }
        *out += "</li>\n";
      }
      *out += "</ul>\n";
      break;
    case Block::Kind::kTable:
      *out += "<table>\n<thead><tr>";
      for (const auto& h : b.header) absl::StrAppend(out, "<th>", Html(h), "</th>");
      *out += "</tr></thead>\n<tbody>\n";
      for (const auto& row : b.rows) {
        *out += "<tr>";
        for (const auto& cell : row) absl::StrAppend(out, "<td>", Html(cell), "</td>");
        *out += "</tr>\n";
      }
      *out += "</tbody>\n</table>\n";
      break;
    case Block::Kind::kCode:
      absl::StrAppend(out, "<pre><code>", Html(b.code), "</code></pre>\n");
      break;
  }
}

constexpr char kCss[] = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       background: #fff; margin: 0; line-height: 1.5; }
main { max-width: 60rem; margin: 0 auto; padding: 2rem 1.5rem; }
h1 { font-size: 1.8rem; border-bottom: 1px solid #d0d7de; padding-bottom: .4rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #eaeef2; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin-top: 1.2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top;
         white-space: pre-wrap; overflow-wrap: anywhere; }
th { background: #f6f8fa; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; border-radius: 6px; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .9em; }
.md { white-space: pre-wrap; }
footer { margin-top: 2.5rem; color: #59636e; font-size: .85rem; border-top: 1px solid #eaeef2;
         padding-top: .6rem; }
)css";

}  // namespace

std::string RenderModelCardMarkdown(const ModelCardData& data) {
  Card card = BuildCard(data);
  std::string out = absl::StrCat("# ", MdText(card.title), "\n\n");
  for (const Section& s : card.sections) {
    absl::StrAppend(&out, "## ", MdText(s.title), "\n\n");
    for (const Block& b : s.blocks) MdBlock(b, &out);
  }
  absl::StrAppend(&out, "---\n\n_", MdText(card.footer), "_\n");
  return out;
}

std::string RenderModelCardHtml(const ModelCardData& data) {
  Card card = BuildCard(data);
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing may be loaded or run: only the inline stylesheet applies.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
      Html(card.title), "</title>\n<style>", kCss, "</style>\n</head>\n<body>\n<main>\n<h1>",
      Html(card.title), "</h1>\n");
  for (const Section& s : card.sections) {
    absl::StrAppend(&out, "<section>\n<h2>", Html(s.title), "</h2>\n");
    for (const Block& b : s.blocks) HtmlBlock(b, &out);
    out += "</section>\n";
  }
  absl::StrAppend(&out, "<footer>", Html(card.footer), "</footer>\n</main>\n</body>\n</html>\n");
  return out;
}

}  // namespace ferry::governance
