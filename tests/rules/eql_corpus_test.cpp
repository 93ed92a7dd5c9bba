// Parses every query scripts/elastic-eql-queries.py extracted from Elastic's detection rules.
// Hidden (needs the extracted file): SCANWATCH_EQL_QUERIES=FILE scanwatch_tests "[eql-corpus]"
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <variant>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "rules/query/eql/eql.h"
#include "rules/event_fields.h"

TEST_CASE("Elastic's single-event EQL rules parse", "[.][eql-corpus]") {
    const char* path = std::getenv("SCANWATCH_EQL_QUERIES");
    if (path == nullptr) {
        WARN("SCANWATCH_EQL_QUERIES is not set: run scripts/elastic-eql-queries.py first");
        return;
    }
    std::ifstream in(path);
    REQUIRE(in);
    scanwatch::rules::FieldCatalog catalog;
    int total = 0;
    int parsed = 0;
    std::string line;
    while (std::getline(in, line)) {
        const auto entry = nlohmann::json::parse(line);
        const std::string query = entry.at("query").get<std::string>();
        ++total;
        auto result = scanwatch::rules::parse_eql(query, catalog.resolver());
        if (const auto* error = std::get_if<scanwatch::rules::QueryError>(&result)) {
            std::cout << entry.at("file").get<std::string>() << ":" << error->line << ":"
                      << error->column << ": " << error->message << "\n";
            continue;
        }
        ++parsed;
        // What it prints parses again to the same text.
        const auto& eql = std::get<scanwatch::rules::EqlQuery>(result);
        const std::string printed = eql.category + " where " + eql.query.to_string();
        auto again = scanwatch::rules::parse_eql(printed, catalog.resolver());
        if (const auto* error = std::get_if<scanwatch::rules::QueryError>(&again)) {
            FAIL("reprint of " << entry.at("file").get<std::string>() << " fails at " << error->line
                               << ":" << error->column << ": " << error->message << "\n"
                               << printed);
        }
        CHECK(std::get<scanwatch::rules::EqlQuery>(again).query.to_string() ==
              eql.query.to_string());
    }
    std::cout << "eql-corpus: " << parsed << " of " << total << " queries parse\n";
    CHECK(parsed == total);
}
