#include "ferry/cli/client_commands.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "ferry/cli/api_client.h"
#include "ferry/cli/table.h"
#include "ferry/common/url.h"
#include "ferry/http/client.h"
#include "nlohmann/json.hpp"

namespace ferry::cli {
namespace {

using nlohmann::json;

std::string Duration(const json& info) {
  int64_t start = Int(info, "start_time"), end = Int(info, "end_time");
  if (start == 0 || end == 0) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", (end - start) / 1000.0);
  return buf;
}

std::string FormatValue(const json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

int ListExperiments(const ClientFlags& flags, const std::string& view) {
  json all = json::array();
  std::string token;
  do {
    json body = {{"max_results", 1000}, {"view_type", view}};
    if (!token.empty()) body["page_token"] = token;
    auto page = Call(flags, "POST", "/api/2.0/mlflow/experiments/search", body);
    if (!page) return 1;
    for (auto& e : page->value("experiments", json::array())) all.push_back(e);
    token = page->value("next_page_token", "");
  } while (!token.empty());
  if (flags.json_output) {
    std::cout << json{{"experiments", all}}.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : all) {
    rows.push_back({Str(e, "experiment_id"), Str(e, "name"), Str(e, "lifecycle_stage"),
                    FormatTime(Int(e, "creation_time")), Str(e, "artifact_location")});
  }
  std::cout << RenderTable({"ID", "NAME", "STAGE", "CREATED (UTC)", "ARTIFACT LOCATION"}, rows);
  return 0;
}

std::optional<json> FindExperiment(const ClientFlags& flags, const std::string& id_or_name) {
  bool numeric =
      !id_or_name.empty() && id_or_name.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    auto r = Call(flags, "GET", "/api/2.0/mlflow/experiments/get?experiment_id=" + id_or_name);
    if (r) return (*r)["experiment"];
    return std::nullopt;
  }
  auto r = Call(flags, "GET",
                "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" +
                    PercentEncode(id_or_name, false));
  if (r) return (*r)["experiment"];
  return std::nullopt;
}

int DescribeExperiment(const ClientFlags& flags, const std::string& id_or_name) {
  auto e = FindExperiment(flags, id_or_name);
  if (!e) return 1;
  if (flags.json_output) {
    std::cout << json{{"experiment", *e}}.dump(2) << "\n";
    return 0;
  }
  std::cout << "Experiment " << Str(*e, "experiment_id") << ": " << Str(*e, "name") << "\n"
            << "  stage:             " << Str(*e, "lifecycle_stage") << "\n"
            << "  artifact location: " << Str(*e, "artifact_location") << "\n"
            << "  created:           " << FormatTime(Int(*e, "creation_time")) << " UTC\n"
            << "  last updated:      " << FormatTime(Int(*e, "last_update_time")) << " UTC\n";
  auto tags = e->value("tags", json::array());
  if (!tags.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : tags) rows.push_back({Str(t, "key"), Str(t, "value")});
    std::cout << "\n" << RenderTable({"TAG", "VALUE"}, rows);
  }
  return 0;
}

struct RunSearchFlags {
  std::vector<std::string> experiment_ids;
  std::vector<std::string> experiment_names;
  std::string filter;
  std::vector<std::string> order_by;
  int max_results = 100;
  std::string view = "ACTIVE_ONLY";
};

int SearchRuns(const ClientFlags& flags, const RunSearchFlags& search) {
  std::vector<std::string> ids = search.experiment_ids;
  for (const auto& name : search.experiment_names) {
    auto e = FindExperiment(flags, name);
    if (!e) return 1;
    ids.push_back(Str(*e, "experiment_id"));
  }
  if (ids.empty()) ids.push_back("0");
  json body = {{"experiment_ids", ids},
               {"filter", search.filter},
               {"max_results", search.max_results},
               {"order_by", search.order_by},
               {"run_view_type", search.view}};
  auto page = Call(flags, "POST", "/api/2.0/mlflow/runs/search", body);
  if (!page) return 1;
  json runs = page->value("runs", json::array());
  if (flags.json_output) {
    std::cout << page->dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& run : runs) {
    const json& info = run["info"];
    std::string metrics;
    for (const auto& m : run["data"].value("metrics", json::array())) {
      if (!metrics.empty()) metrics += " ";
      metrics += Str(m, "key") + "=" + FormatValue(m["value"]);
    }
    rows.push_back({Str(info, "run_id"), Str(info, "run_name"), Str(info, "status"),
                    FormatTime(Int(info, "start_time")), Duration(info), metrics});
  }
  std::cout << RenderTable({"RUN ID", "NAME", "STATUS", "STARTED (UTC)", "DURATION", "METRICS"},
                           rows, 64);
  std::cout << runs.size() << " run(s)";
  if (page->contains("next_page_token")) std::cout << " (more: raise --max-results)";
  std::cout << "\n";
  return 0;
}

int DescribeRun(const ClientFlags& flags, const std::string& run_id) {
  auto r = Call(flags, "GET", "/api/2.0/mlflow/runs/get?run_id=" + PercentEncode(run_id, false));
  if (!r) return 1;
  if (flags.json_output) {
    std::cout << r->dump(2) << "\n";
    return 0;
  }
  const json& run = (*r)["run"];
  const json& info = run["info"];
  std::cout << "Run " << Str(info, "run_id") << " (" << Str(info, "run_name") << ")\n"
            << "  experiment:   " << Str(info, "experiment_id") << "\n"
            << "  status:       " << Str(info, "status") << "  (" << Str(info, "lifecycle_stage")
            << ")\n"
            << "  user:         " << Str(info, "user_id") << "\n"
            << "  started:      " << FormatTime(Int(info, "start_time")) << " UTC\n"
            << "  duration:     " << Duration(info) << "\n"
            << "  artifact uri: " << Str(info, "artifact_uri") << "\n";
  auto section = [](const char* title, const json& items, const char* value_key) {
    if (items.empty()) return;
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : items) {
      std::vector<std::string> row = {Str(item, "key"), FormatValue(item[value_key])};
      if (item.contains("step")) row.push_back(std::to_string(item["step"].get<int64_t>()));
      rows.push_back(std::move(row));
    }
    std::vector<std::string> header = {title, "VALUE"};
    if (items[0].contains("step")) header.push_back("STEP");
    std::cout << "\n" << RenderTable(header, rows, 80);
  };
  const json& data = run["data"];
  section("PARAM", data.value("params", json::array()), "value");
  section("METRIC (latest)", data.value("metrics", json::array()), "value");
  section("TAG", data.value("tags", json::array()), "value");
  auto inputs = run.value("inputs", json::object()).value("dataset_inputs", json::array());
  if (!inputs.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& in : inputs) {
      std::string context;
      for (const auto& t : in.value("tags", json::array())) {
        if (Str(t, "key") == "mlflow.data.context") context = Str(t, "value");
      }
      rows.push_back({Str(in["dataset"], "name"), Str(in["dataset"], "digest"), context,
                      Str(in["dataset"], "source_type")});
    }
    std::cout << "\n" << RenderTable({"DATASET", "DIGEST", "CONTEXT", "SOURCE TYPE"}, rows);
  }
  return 0;
}

}  // namespace

void AddClientCommands(CLI::App& app, int& exit_code) {
  static ClientFlags flags;
  static std::string view = "ACTIVE_ONLY";
  static std::string target;
  static RunSearchFlags search;

  CLI::App* experiments = app.add_subcommand("experiments", "List and describe experiments");
  experiments->require_subcommand(1);
  CLI::App* list = experiments->add_subcommand("list", "List experiments");
  AddCommonFlags(list, flags);
  list->add_option("--view", view, "ACTIVE_ONLY, DELETED_ONLY or ALL")
      ->check(CLI::IsMember({"ACTIVE_ONLY", "DELETED_ONLY", "ALL"}, CLI::ignore_case))
      ->capture_default_str();
  list->callback([&exit_code] {
    std::string upper = view;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    exit_code = ListExperiments(flags, upper);
  });
  CLI::App* describe = experiments->add_subcommand("describe", "Show one experiment");
  AddCommonFlags(describe, flags);
  describe->add_option("experiment", target, "Experiment id or name")->required();
  describe->callback([&exit_code] { exit_code = DescribeExperiment(flags, target); });

  CLI::App* runs = app.add_subcommand("runs", "Search and describe runs");
  runs->require_subcommand(1);
  CLI::App* search_cmd =
      runs->add_subcommand("search", "Search runs with MLflow's filter language");
  AddCommonFlags(search_cmd, flags);
  search_cmd->add_option("--experiment-id", search.experiment_ids, "Experiment id (repeatable)");
  search_cmd->add_option("--experiment-name", search.experiment_names,
                         "Experiment name (repeatable)");
  search_cmd->add_option("--filter", search.filter,
                         "e.g. \"metrics.auc > 0.9 and params.model = 'gbm'\"");
  search_cmd->add_option("--order-by", search.order_by, "e.g. \"metrics.auc DESC\" (repeatable)");
  search_cmd->add_option("--max-results", search.max_results, "At most this many runs")
      ->check(CLI::Range(1, 50000))
      ->capture_default_str();
  search_cmd->add_option("--view", search.view, "ACTIVE_ONLY, DELETED_ONLY or ALL")
      ->check(CLI::IsMember({"ACTIVE_ONLY", "DELETED_ONLY", "ALL"}))
      ->capture_default_str();
  search_cmd->callback([&exit_code] { exit_code = SearchRuns(flags, search); });
  CLI::App* describe_run =
      runs->add_subcommand("describe", "Show one run: params, metrics, tags, inputs");
  AddCommonFlags(describe_run, flags);
  describe_run->add_option("run_id", target, "Run id")->required();
  describe_run->callback([&exit_code] { exit_code = DescribeRun(flags, target); });
}

}  // namespace ferry::cli
