#include "ferry/cli/governance_commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "ferry/cli/api_client.h"
#include "ferry/cli/table.h"
#include "ferry/common/url.h"

namespace ferry::cli {
namespace {

using nlohmann::json;

struct GovernanceFlags {
  ClientFlags client;
  std::string name;
  std::string version;
  std::string alias;
  std::vector<std::string> protect_aliases;
  std::vector<std::string> protect_stages;
  std::vector<std::string> conditions;
  std::vector<std::string> required_tags;
  int approvals = 0;
  std::string target;
  std::string comment;
  bool force = false;
  std::string reason;
  std::string format = "markdown";
  std::string output;
  std::string object;
  int64_t limit = 0;
  std::string uri;
};

GovernanceFlags& Flags() {
  static GovernanceFlags flags;
  return flags;
}

std::string Q(const std::string& value) { return PercentEncode(value, false); }

int PolicySet(const GovernanceFlags& f) {
  json tags = json::object();
  for (const auto& kv : f.required_tags) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "error: --require-tag takes KEY=VALUE, got '%s'\n", kv.c_str());
      return 2;
    }
    tags[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  json policy = {{"protected_aliases", f.protect_aliases},
                 {"protected_stages", f.protect_stages},
                 {"conditions", f.conditions},
                 {"required_tags", tags},
                 {"required_approvals", f.approvals}};
  auto r = Call(f.client, "POST", "/api/2.0/ferry/registered-models/policy/set",
                {{"name", f.name}, {"policy", policy}});
  if (!r) return 1;
  std::cout << (f.client.json_output ? r->dump(2)
                                     : "policy set for " + f.name + ":\n" + (*r)["policy"].dump(2))
            << "\n";
  return 0;
}

int PolicyGet(const GovernanceFlags& f) {
  auto r = Call(f.client, "GET", "/api/2.0/ferry/registered-models/policy/get?name=" + Q(f.name));
  if (!r) return 1;
  if (f.client.json_output) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  const json& p = (*r)["policy"];
  std::cout << "Promotion policy of " << f.name << "\n";
  auto list = [](const json& a) {
    std::string out;
    for (const auto& x : a) out += (out.empty() ? "" : ", ") + x.get<std::string>();
    return out.empty() ? std::string("(none)") : out;
  };
  std::cout << "  protected aliases:  " << list(p.value("protected_aliases", json::array())) << "\n"
            << "  protected stages:   " << list(p.value("protected_stages", json::array())) << "\n"
            << "  required approvals: " << p.value("required_approvals", 0) << "\n";
  for (const auto& c : p.value("conditions", json::array()))
    std::cout << "  condition:          " << c.get<std::string>() << "\n";
  const json tags = p.value("required_tags", json::object());  // items() must not outlive its json
  for (const auto& [k, v] : tags.items()) {
    std::cout << "  required tag:       " << k << " = " << v.get<std::string>() << "\n";
  }
  return 0;
}

int Approve(const GovernanceFlags& f) {
  auto r = Call(
      f.client, "POST", "/api/2.0/ferry/model-versions/approve",
      {{"name", f.name}, {"version", f.version}, {"target", f.target}, {"comment", f.comment}});
  if (!r) return 1;
  if (f.client.json_output) {
    std::cout << r->dump(2) << "\n";
  } else {
    const json& a = (*r)["approval"];
    std::cout << Str(a, "user") << " approved " << f.name << " version " << f.version << " for "
              << Str(a, "target") << "\n";
  }
  return 0;
}

int AliasSet(const GovernanceFlags& f) {
  std::optional<json> r;
  if (f.force) {
    r = Call(f.client, "POST", "/api/2.0/ferry/registered-models/alias/force",
             {{"name", f.name}, {"alias", f.alias}, {"version", f.version}, {"reason", f.reason}});
  } else {
    r = Call(f.client, "POST", "/api/2.0/mlflow/registered-models/alias",
             {{"name", f.name}, {"alias", f.alias}, {"version", f.version}});
  }
  if (!r) return 1;
  std::cout << f.name << "@" << f.alias << " -> version " << f.version
            << (f.force ? " (forced; audited)" : "") << "\n";
  return 0;
}

int Card(const GovernanceFlags& f) {
  std::string body;
  auto r = Call(f.client, "GET",
                "/api/2.0/ferry/model-card?name=" + Q(f.name) + "&version=" + Q(f.version) +
                    "&format=" + Q(f.format),
                nullptr, &body);
  if (!r) return 1;
  if (f.output.empty()) {
    std::cout << body;
    return 0;
  }
  std::ofstream out(f.output, std::ios::binary);
  out << body;
  if (!out) {
    std::fprintf(stderr, "error: cannot write %s\n", f.output.c_str());
    return 1;
  }
  std::cout << "model card for " << f.name << " version " << f.version << " written to " << f.output
            << "\n";
  return 0;
}

int AuditLog(const GovernanceFlags& f) {
  std::string target = "/api/2.0/ferry/audit/log?object=" + Q(f.object);
  if (f.limit > 0) target += "&limit=" + std::to_string(f.limit);
  auto r = Call(f.client, "GET", target);
  if (!r) return 1;
  if (f.client.json_output) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : (*r)["entries"]) {
    std::string change;
    if (!e["before"].is_null()) change += e["before"].dump();
    change += " -> ";
    change += e["after"].is_null() ? "(gone)" : e["after"].dump();
    rows.push_back({std::to_string(e["seq"].get<int64_t>()), FormatTime(Int(e, "timestamp")),
                    Str(e, "actor"), Str(e, "action"), Str(e, "object_id"), change});
  }
  std::cout << RenderTable({"SEQ", "TIME (UTC)", "ACTOR", "ACTION", "OBJECT", "CHANGE"}, rows, 60);
  return 0;
}

int AuditVerify(const GovernanceFlags& f) {
  auto r = Call(f.client, "GET", "/api/2.0/ferry/audit/verify");
  if (!r) return 2;
  if (f.client.json_output) std::cout << r->dump(2) << "\n";
  if ((*r).value("ok", false)) {
    if (!f.client.json_output)
      std::cout << "audit log intact: " << Int(*r, "entries_checked") << " entries verified\n";
    return 0;
  }
  if (!f.client.json_output) {
    std::cout << "AUDIT LOG TAMPERED: first bad entry " << Int(*r, "first_bad_seq") << ": "
              << Str(*r, "problem") << "\n";
  }
  return 1;
}

int Lineage(const GovernanceFlags& f) {
  auto r = Call(f.client, "GET", "/api/2.0/ferry/lineage?uri=" + Q(f.uri));
  if (!r) return 1;
  if (f.client.json_output) {
    std::cout << (*r)["lineage"].dump(2) << "\n";
  } else {
    std::cout << Str(*r, "text");
  }
  return 0;
}

}  // namespace

void AddGovernanceCommands(CLI::App& app, int& exit_code) {
  GovernanceFlags& f = Flags();
  CLI::App* models = app.add_subcommand(
      "models", "Registry governance: policies, approvals, aliases, model cards");
  models->require_subcommand(1);

  CLI::App* policy =
      models->add_subcommand("policy", "Promotion policy (gates) of a registered model");
  policy->require_subcommand(1);
  CLI::App* set = policy->add_subcommand("set", "Set (replace) the policy");
  AddCommonFlags(set, f.client);
  set->add_option("name", f.name, "Registered model")->required();
  set->add_option("--protect-alias", f.protect_aliases, "Alias whose moves are gated (repeatable)");
  set->add_option("--protect-stage", f.protect_stages, "Stage whose entry is gated (repeatable)");
  set->add_option("--condition", f.conditions,
                  "e.g. \"auc >= 0.80\" or \"auc >= champion.auc - 0.005\" (repeatable)");
  set->add_option("--require-tag", f.required_tags,
                  "KEY=VALUE the version or its run must carry (repeatable)");
  set->add_option("--approvals", f.approvals, "Approvals from distinct users required")
      ->check(CLI::Range(0, 100));
  set->callback([&exit_code] { exit_code = PolicySet(Flags()); });
  CLI::App* get = policy->add_subcommand("get", "Show the policy");
  AddCommonFlags(get, f.client);
  get->add_option("name", f.name, "Registered model")->required();
  get->callback([&exit_code] { exit_code = PolicyGet(Flags()); });

  CLI::App* approve =
      models->add_subcommand("approve", "Approve a version for a protected alias or stage");
  AddCommonFlags(approve, f.client);
  approve->add_option("name", f.name, "Registered model")->required();
  approve->add_option("version", f.version, "Version")->required();
  approve->add_option("--target", f.target, "alias:<name> or stage:<Stage>")->required();
  approve->add_option("--comment", f.comment, "Why");
  approve->callback([&exit_code] { exit_code = Approve(Flags()); });

  CLI::App* alias = models->add_subcommand("alias", "Move an alias (gated by the policy)");
  alias->require_subcommand(1);
  CLI::App* alias_set = alias->add_subcommand("set", "Point ALIAS at VERSION");
  AddCommonFlags(alias_set, f.client);
  alias_set->add_option("name", f.name, "Registered model")->required();
  alias_set->add_option("alias", f.alias, "Alias")->required();
  alias_set->add_option("version", f.version, "Version")->required();
  alias_set->add_flag("--force", f.force, "Override failed gates (audited; needs --reason)");
  alias_set->add_option("--reason", f.reason, "Why the override is justified");
  alias_set->callback([&exit_code] { exit_code = AliasSet(Flags()); });

  CLI::App* card = models->add_subcommand("card", "Write the model card of a version");
  AddCommonFlags(card, f.client);
  card->add_option("name", f.name, "Registered model")->required();
  card->add_option("version", f.version, "Version")->required();
  card->add_option("--format", f.format, "markdown or html")
      ->check(CLI::IsMember({"markdown", "html"}));
  card->add_option("--output,-o", f.output, "File to write (default: standard output)");
  card->callback([&exit_code] { exit_code = Card(Flags()); });

  CLI::App* audit = app.add_subcommand("audit", "The tamper-evident audit log");
  audit->require_subcommand(1);
  CLI::App* log = audit->add_subcommand("log", "List audit entries");
  AddCommonFlags(log, f.client);
  log->add_option("--object", f.object,
                  "Only this object (a model name also matches its versions and aliases)");
  log->add_option("--limit", f.limit, "At most this many entries (0: all)");
  log->callback([&exit_code] { exit_code = AuditLog(Flags()); });
  CLI::App* verify = audit->add_subcommand(
      "verify", "Recompute the hash chain; exit 1 naming the first bad entry");
  AddCommonFlags(verify, f.client);
  verify->callback([&exit_code] { exit_code = AuditVerify(Flags()); });

  CLI::App* lineage = app.add_subcommand(
      "lineage", "Show a model's lineage: version, run, data, code, environment");
  AddCommonFlags(lineage, f.client);
  lineage->add_option("uri", f.uri, "models:/name@alias, models:/name/3 or models:/name/Production")
      ->required();
  lineage->callback([&exit_code] { exit_code = Lineage(Flags()); });
}

}  // namespace ferry::cli
